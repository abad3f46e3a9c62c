// Test helper: the OHIF build the viewer tests serve, prepared by scripts/fetch-viewer.sh (cached, pinned).

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The absolute path of the prepared viewer build (fetched on first use; later calls only check it). */
export function viewerBuild(): string {
  execFileSync('bash', [resolve(REPO, 'scripts/fetch-viewer.sh')], { stdio: ['ignore', 'ignore', 'inherit'], cwd: REPO });
  return resolve(REPO, '.viewer/ohif');
}
