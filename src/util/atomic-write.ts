// Writes a file atomically (temp file + rename) with a given mode, so watchers never see half a file.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';

export function atomicWrite(file: string, data: string | Buffer, mode = 0o600): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}
