// The process's own metrics (CPU, memory, file descriptors, event-loop delay, heap, node version), read when scraped.
//
// prom-client's collectDefaultMetrics() gives these too, and also a GC pause histogram fed by a
// perf_hooks 'gc' observer: a callback on every garbage collection. On the request path that
// observer cost ~2.7 µs of CPU per QIDO-RS request (bench/edge-cpu.ts, docs/benchmarks.md: the
// gateway collects young garbage very often, by design, with --max-semi-space-size=4), and
// prom-client has no option to leave it out. So the same names are made here, minus the GC one,
// each computed in its collect() on a scrape; the event-loop delay histogram is node's
// monitorEventLoopDelay (a timer, not a per-event hook).

import { readdirSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';

/** Event-loop delay sampling interval (ms), as prom-client's default. */
const ELD_RESOLUTION_MS = 10;

export function registerProcessMetrics(registry: Registry, prefix: string): { stop: () => void } {
  const registers = [registry];
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({ name: `${prefix}${name}`, help, registers, collect() { this.reset(); this.inc(read()); } });
  };
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name: `${prefix}${name}`, help, registers, collect() { this.set(read()); } });
  };
  counter('process_cpu_user_seconds_total', 'User CPU time spent in seconds', () => process.cpuUsage().user / 1e6);
  counter('process_cpu_system_seconds_total', 'System CPU time spent in seconds', () => process.cpuUsage().system / 1e6);
  counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds', () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; });
  const started = Math.round(Date.now() / 1000 - process.uptime());
  gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds', () => started);
  gauge('process_resident_memory_bytes', 'Resident memory size in bytes', () => process.memoryUsage.rss());
  gauge('process_open_fds', 'Number of open file descriptors (Linux)', () => { try { return readdirSync('/proc/self/fd').length; } catch { return Number.NaN; } });
  gauge('nodejs_heap_size_total_bytes', 'Process heap size from node.js in bytes', () => process.memoryUsage().heapTotal);
  gauge('nodejs_heap_size_used_bytes', 'Process heap size used from node.js in bytes', () => process.memoryUsage().heapUsed);
  gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes', () => process.memoryUsage().external);

  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  eld.enable();
  // Each scrape reads the delays since the previous scrape (the histogram is reset after the last gauge reads it).
  const delays: readonly [string, string, () => number][] = [
    ['nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay', () => eld.min],
    ['nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays', () => eld.mean],
    ['nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays', () => eld.percentile(50)],
    ['nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays', () => eld.percentile(90)],
    ['nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays', () => eld.percentile(99)],
    ['nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay', () => { const m = eld.max; eld.reset(); return m; }],
  ];
  // A histogram without samples reports NaN / huge sentinels: 0 then.
  for (const [name, help, read] of delays) gauge(name, help, () => (eld.count === 0 ? 0 : read() / 1e9));
  new Gauge({
    name: `${prefix}nodejs_version_info`, help: 'Node.js version info', labelNames: ['version', 'major', 'minor', 'patch'], registers,
    collect() {
      const [major = '', minor = '', patch = ''] = process.versions.node.split('.');
      this.set({ version: process.version, major, minor, patch }, 1);
    },
  });
  return { stop: () => { eld.disable(); } };
}
