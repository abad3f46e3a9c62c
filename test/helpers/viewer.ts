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

/**
 * A synthetic head-like CT slice (stored value = HU + 1024): air, a skull ring, brain, and two
 * "ventricles" whose size depends on `slice`, so the screenshots show an image a reader recognises.
 */
export function phantomSlice(slice: number): (pixels: Uint16Array, rows: number, columns: number) => void {
  return (pixels, rows, columns) => {
    const cx = columns / 2;
    const cy = rows / 2;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        const dx = (x - cx) / (columns * 0.36);
        const dy = (y - cy) / (rows * 0.44);
        const r = Math.hypot(dx, dy);
        let hu = -1000;
        if (r < 1) hu = r > 0.9 ? 1200 : 35 + 8 * Math.sin(x / 9) * Math.cos(y / 11);
        const v = 0.08 + 0.02 * slice;
        if (Math.hypot(dx + 0.18, dy * 1.6) < v || Math.hypot(dx - 0.18, dy * 1.6) < v) hu = 5;
        pixels[y * columns + x] = hu + 1024;
      }
    }
  };
}
