// Watches one file for changes, surviving editors and tools that replace it by rename.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/** Calls `onChange` (debounced) when `file` is written, replaced or created. Returns a stop function. */
export function watchFile(file: string, onChange: () => void, debounceMs = 50): () => void {
  let timer: NodeJS.Timeout | undefined;
  const name = basename(file);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
    watcher.on('error', () => undefined);
  } catch {
    watcher = undefined; // the directory does not exist yet: SIGHUP still reloads
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
