// The gateway's command line, run from the bench's own build (dist-bench/src): `npm run bench` never rewrites dist/.
// With PGW_BENCH_ELD_FILE set, it also records event-loop delay and writes it to that file on SIGUSR2 (bench/lib/event-loop.ts).

import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { main } from '../src/cli/main.js';

const eldFile = process.env['PGW_BENCH_ELD_FILE'];
if (eldFile !== undefined && eldFile !== '') {
  // 5 ms resolution would hide the sub-millisecond stalls the bars care about; 1 ms is the finest useful on a loaded host.
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  process.on('SIGUSR2', () => {
    const ms = (ns: number): number => ns / 1e6;
    writeFileSync(eldFile, JSON.stringify({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean), count: h.count }));
    h.reset();
  });
}

process.exitCode = await main(process.argv.slice(2));
