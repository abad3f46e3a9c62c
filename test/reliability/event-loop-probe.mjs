// Loaded into the gateway process by the soak (NODE_OPTIONS=--import=…): once a second, the event-loop delay,
// active handles and memory as one JSON line appended to $PGW_PROBE_FILE. Instrumentation only; it changes nothing.
import { appendFileSync, readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.PGW_PROBE_FILE;
if (file !== undefined && file !== '') {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const line = {
      t: Date.now(), pid: process.pid,
      eldP50Ms: h.percentile(50) / 1e6, eldP99Ms: h.percentile(99) / 1e6, eldMaxMs: h.max / 1e6,
      handles: process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').length,
      fds: (() => { try { return readdirSync('/proc/self/fd').length; } catch { return -1; } })(),
      rssMb: m.rss / 1048576, heapUsedMb: m.heapUsed / 1048576,
    };
    h.reset();
    try { appendFileSync(file, `${JSON.stringify(line)}\n`); } catch { /* the soak's directory is gone */ }
  }, 1000);
  timer.unref();
}
