// Watches one file for changes, surviving editors and tools that replace it by rename.

import { unwatchFile, watch, watchFile as pollFile, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

const POLL_MS = 1000;

/**
 * Calls `onChange` (debounced) when `file` is written, replaced or created. Watches the
 * directory (events are immediate); when the directory does not exist yet, polls the file.
 * Returns a stop function.
 */
export function watchFile(file: string, onChange: () => void, debounceMs = 50): () => void {
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  const name = basename(file);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed === null || changed === name) fire();
    });
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined;
  }
  const poll = (cur: { mtimeMs: number; ino: number }, prev: { mtimeMs: number; ino: number }): void => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) fire();
  };
  if (watcher === undefined) pollFile(file, { persistent: false, interval: POLL_MS }, poll);
  return () => {
    clearTimeout(timer);
    watcher?.close();
    if (watcher === undefined) unwatchFile(file, poll);
  };
}
