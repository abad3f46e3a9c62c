// wrk runs (keep-alive HTTP load) with a Lua `done` hook that prints the summary and latency percentiles as JSON.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../test/helpers/tools.js';

// wrk 4.1 Lua API: done(summary, latency, requests); latency in microseconds.
const REPORT_LUA = `-- Written by bench/lib/wrk.ts: one JSON line with the run's summary.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly bytes: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly timeouts: number;
}

export interface WrkOptions {
  readonly url: string;
  readonly connections: number;
  readonly threads: number;
  readonly seconds: number;
  readonly headers?: Record<string, string>;
  /**
   * With `Connection: close` wrk counts the server's close after each answer as a read error (one per
   * request); those are then expected, and only connect, write and status errors fail the run.
   */
  readonly closeEachRequest?: boolean;
}

/** Writes the Lua script into `dir` once; returns its path. */
export function wrkScript(dir: string): string {
  const path = join(dir, 'wrk-report.lua');
  writeFileSync(path, REPORT_LUA);
  return path;
}

/**
 * Runs wrk; rejects on connection, read/write or status errors (a refused or failing proxy must
 * not look fast). Request timeouts (wrk's 2 s) are reported, not fatal.
 */
export async function runWrk(script: string, o: WrkOptions): Promise<WrkResult> {
  const args = [
    '-t', String(Math.min(o.threads, o.connections)), '-c', String(o.connections), '-d', `${o.seconds}s`,
    '--timeout', '2s', '-s', script,
  ];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  const r = await run('wrk', args, { timeoutMs: (o.seconds + 30) * 1000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (r.code !== 0 || line === undefined) throw new Error(`wrk ${o.url} failed (exit ${String(r.code)}): ${(r.stderr + r.stdout).slice(-1500)}`);
  const j = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>;
  const n = (k: string): number => j[k] ?? Number.NaN;
  const errors = n('connect') + (o.closeEachRequest === true ? 0 : n('read')) + n('write') + n('status');
  if (!(n('requests') > 0)) throw new Error(`wrk ${o.url}: no request completed in ${o.seconds} s`);
  if (errors > 0) {
    throw new Error(`wrk ${o.url}: ${errors} errors (connect ${n('connect')}, read ${n('read')}, write ${n('write')}, non-2xx ${n('status')}) in ${n('requests')} requests`);
  }
  const seconds = n('durationUs') / 1e6;
  return {
    requests: n('requests'), seconds, rps: n('requests') / seconds, bytes: n('bytes'),
    p50Ms: n('p50Us') / 1000, p90Ms: n('p90Us') / 1000, p99Ms: n('p99Us') / 1000, maxMs: n('maxUs') / 1000, timeouts: n('timeout'),
  };
}
