// Login rate (password + TOTP → session): wall-clock rate at a few concurrent logins, and logins per CPU-second of the gateway.

import { oathtool } from '../../test/helpers/tools.js';
import { login } from '../lib/http-client.js';
import { peakRssBytes, resetPeakRss, rssBytes } from '../lib/proc.js';
import { fmt, type SummaryTable } from '../lib/report.js';
import { measured } from '../lib/rounds.js';
import { median } from '../lib/stats.js';
import { MB, type BenchContext } from './context.js';

export interface LoginOutcome {
  readonly table: SummaryTable;
  /** Bearer tokens of the new sessions (on the fast gateway). */
  readonly tokens: string[];
  readonly perCpuSecond: number;
}

/** Each login user logs in once (a TOTP code is accepted once per user), `loginConcurrency` at a time. */
export async function loginRate(ctx: BenchContext): Promise<LoginOutcome> {
  const { env } = ctx;
  const users = env.id.loginUsers;
  const concurrency = ctx.options.workload.loginConcurrency;
  // Codes first (oathtool), so that the timed part is only the gateway's work.
  const codes = await Promise.all(users.map((u) => oathtool(u.totpSecret)));
  const pid = env.gatewayFast.pid;
  resetPeakRss(pid);
  const baseline = rssBytes(pid);
  const tokens: string[] = [];
  const latencies: number[] = [];
  let next = 0;
  const m = await measured(env.components, async () => {
    const worker = async (): Promise<void> => {
      while (next < users.length) {
        const i = next++;
        const t0 = performance.now();
        tokens.push(await login(env.gatewayFast.url, env.caPem, users[i] as (typeof users)[number], codes[i]));
        latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, worker));
  });
  const cpu = m.cpu['gateway-fast'] ?? Number.NaN;
  const n = users.length;
  const perCpuSecond = n / cpu;
  const peakGrowth = (peakRssBytes(pid) - baseline) / MB;
  ctx.log(`    ${n} logins in ${m.wallSeconds.toFixed(2)} s; gateway CPU ${cpu.toFixed(2)} s; peak RSS +${peakGrowth.toFixed(0)} MB`);
  return {
    tokens, perCpuSecond,
    table: {
      id: 'login', title: 'Logins (password + TOTP → session), gateway',
      note: `${n} users log in once each, ${concurrency} at a time, over HTTPS (new TLS connection per login). The password check is scrypt N=2^17, r=8 (OWASP), run on libuv's thread pool: it dominates the cost by design, and each one in flight needs 128 MB. "per CPU-second" is logins per second of one core fully used by the gateway process.`,
      header: ['logins', 'concurrency', 'wall s', 'logins/s (wall)', 'median login ms', 'gateway CPU s per login', 'logins per CPU-second (one core)', 'gateway peak RSS growth MB'],
      rows: [[String(n), String(concurrency), fmt(m.wallSeconds, 2), fmt(n / m.wallSeconds, 2), fmt(median(latencies), 0), fmt(cpu / n, 3), fmt(perCpuSecond, 2), fmt(peakGrowth, 0)]],
    },
  };
}
