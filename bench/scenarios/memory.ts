// Resident memory with many idle associations and many idle keep-alive HTTPS connections (gateway; stunnel and nginx for reference).

import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { QIDO_PATH } from '../lib/dataset.js';
import { fetchUrl } from '../lib/http-client.js';
import { closeAll, openIdleAssociations } from '../lib/idle-associations.js';
import { rssBytes } from '../lib/proc.js';
import { fmt, type SummaryTable } from '../lib/report.js';
import { MB, type BenchContext } from './context.js';

interface Row { readonly what: string; readonly process: string; readonly before: number; readonly held: number; readonly count: number; readonly after: number }

function rssOf(pids: readonly number[]): number {
  return pids.reduce((a, pid) => a + rssBytes(pid), 0);
}

async function idleAssociations(ctx: BenchContext, label: string, port: number, pids: () => readonly number[]): Promise<Row> {
  const { env } = ctx;
  const count = ctx.options.workload.idleAssociations;
  const before = rssOf(pids());
  const sockets = await openIdleAssociations({
    port, count, calledAe: env.orthanc.aeTitle, key: readFileSync(env.id.device.key, 'utf8'),
    cert: readFileSync(env.id.device.cert, 'utf8'), ca: env.caPem, batch: 20, timeoutMs: 30_000,
  });
  await sleep(ctx.options.workload.settleMs);
  const held = rssOf(pids());
  closeAll(sockets);
  await sleep(ctx.options.workload.settleMs * 2);
  const after = rssOf(pids());
  ctx.log(`    ${label}: ${count} idle associations: RSS ${fmt(before / MB, 1)} → ${fmt(held / MB, 1)} MB (after close ${fmt(after / MB, 1)} MB)`);
  return { what: `${count} idle DICOM associations (mTLS)`, process: label, before, held, count, after };
}

async function keepAlive(ctx: BenchContext, label: string, base: string, tokens: readonly string[], pids: () => readonly number[]): Promise<Row> {
  const count = ctx.options.workload.httpSessions;
  const before = rssOf(pids());
  const agent = new Agent({ keepAlive: true, maxSockets: count, maxFreeSockets: count, ca: ctx.env.caPem, timeout: 60_000 });
  try {
    const answers = await Promise.all(Array.from({ length: count }, (_, i) => {
      const token = tokens[i % Math.max(1, tokens.length)];
      return fetchUrl(`${base}${QIDO_PATH}`, { agent, ca: ctx.env.caPem, headers: token === undefined || tokens.length === 0 ? {} : { authorization: `Bearer ${token}` } });
    }));
    const bad = answers.find((a) => a.status !== 200);
    if (bad !== undefined) throw new Error(`${label}: HTTP ${bad.status} ${bad.body.toString('utf8').slice(0, 200)}`);
    await sleep(ctx.options.workload.settleMs);
    const open = Object.values(agent.freeSockets).reduce((a, list) => a + (list?.length ?? 0), 0);
    const held = rssOf(pids());
    agent.destroy();
    await sleep(ctx.options.workload.settleMs * 2);
    const after = rssOf(pids());
    ctx.log(`    ${label}: ${open} keep-alive connections: RSS ${fmt(before / MB, 1)} → ${fmt(held / MB, 1)} MB (after close ${fmt(after / MB, 1)} MB)`);
    return { what: `${open} idle keep-alive HTTPS connections${tokens.length > 0 ? ` (${Math.min(tokens.length, count)} sessions)` : ''}`, process: label, before, held, count: open, after };
  } finally {
    agent.destroy();
  }
}

/** Runs both memory measurements; returns the table. */
export async function memory(ctx: BenchContext): Promise<SummaryTable> {
  const { env } = ctx;
  const settle = ctx.options.workload.settleMs / 1000;
  const rows: Row[] = [
    await idleAssociations(ctx, 'gateway', env.gateway.dicomPort, env.components['gateway'] ?? (() => [])),
    await idleAssociations(ctx, 'stunnel (all services)', env.stunnelPorts.mtls, env.components['stunnel'] ?? (() => [])),
    await keepAlive(ctx, 'gateway', env.gatewayFast.url, ctx.sessionTokens, env.components['gateway-fast'] ?? (() => [])),
    await keepAlive(ctx, 'nginx (master + workers)', `https://127.0.0.1:${env.nginxPorts.static}`, [], env.components['nginx'] ?? (() => [])),
  ];
  return {
    id: 'memory', title: 'Resident memory with idle connections held open',
    note: `VmRSS ${settle} s after the connections are open and ${2 * settle} s after they are closed. Each association also holds an Orthanc thread; the HTTP connections each made one authenticated QIDO-RS request first. nginx RSS is summed over master and workers (shared pages counted twice).`,
    header: ['held open', 'process', 'RSS before MB', 'RSS held MB', 'KB per connection', 'RSS after close MB'],
    rows: rows.map((r) => [r.what, r.process, fmt(r.before / MB, 1), fmt(r.held / MB, 1), fmt((r.held - r.before) / 1000 / Math.max(1, r.count), 1), fmt(r.after / MB, 1)]),
  };
}
