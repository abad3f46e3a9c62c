// The scan: every port of every target host, a bounded number at a time, connections spaced by the
// rate limit; results in target order whatever order they finish in.

import { lookup } from 'node:dns/promises';
import type { Endpoint, ProbeContext } from './context.js';
import { probePort } from './probe-port.js';
import { RateLimiter } from './rate-limiter.js';
import { expandHosts, type ScanHost, type Target } from './targets.js';
import { DEFAULT_CALLED_AETS, summarize, type ScanReport, type ServiceResult } from './types.js';
import { peerText } from './peer-text.js';
import { portHint } from './ports.js';

export interface ScanOptions {
  readonly targets: readonly Target[];
  readonly ports: readonly number[];
  /** Ports probed at the same time (default 16). */
  readonly concurrency?: number;
  /** New connections (and HTTP requests) per second, over the whole scan (default 50). */
  readonly ratePerSecond?: number;
  /** Per step: connect, handshake, each answer (default 3000 ms). */
  readonly timeoutMs?: number;
  /** Called AE titles tried before ANY-SCP, ORTHANC, DCM4CHEE. */
  readonly calledAets?: readonly string[];
  readonly deep?: boolean;
  /** The scanner's version, for the User-Agent and the Implementation Version Name. */
  readonly version: string;
  readonly now?: () => Date;
  /** Called as each port is done (progress). */
  readonly onResult?: (r: ServiceResult) => void;
}

export const SCAN_DEFAULTS = Object.freeze({ concurrency: 16, ratePerSecond: 50, timeoutMs: 3000 });

/** The context every probe of a scan shares. */
export function probeContext(o: Pick<ScanOptions, 'ratePerSecond' | 'timeoutMs' | 'calledAets' | 'deep' | 'version'>): ProbeContext {
  const extra = o.calledAets ?? [];
  return {
    timeoutMs: o.timeoutMs ?? SCAN_DEFAULTS.timeoutMs,
    limiter: new RateLimiter(o.ratePerSecond ?? SCAN_DEFAULTS.ratePerSecond),
    userAgent: `pacs-gateway-scan/${o.version} (exposure inventory; no credentials sent)`,
    calledAets: [...extra, ...DEFAULT_CALLED_AETS.filter((a) => !extra.includes(a))],
    deep: o.deep ?? false,
    implementationVersion: `PGW-SCAN ${o.version}`.slice(0, 16),
  };
}

interface Job { readonly index: number; readonly host: ScanHost; readonly port: number }

type Resolved = { readonly address: string; readonly note: string | undefined } | { readonly error: string };

/**
 * The address a target is probed at: itself, or a name's first address. A name that resolves to
 * many addresses is still one target (the address budget counts it once); the evidence says which
 * address answered for it.
 */
async function resolve(host: ScanHost): Promise<Resolved> {
  if (host.kind !== 'name') return { address: host.host, note: undefined };
  try {
    const all = await lookup(host.host, { all: true });
    const first = all[0];
    if (first === undefined) return { error: 'no address' };
    return {
      address: first.address,
      note: all.length === 1
        ? `probed ${first.address}, the address ${host.host} resolves to`
        : `probed ${first.address}, the first of the ${all.length} addresses ${host.host} resolves to (the others were not scanned)`,
    };
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}

/** Runs the scan; never throws for network conditions (they become verdicts). */
export async function scan(o: ScanOptions): Promise<ScanReport> {
  const scannedAt = (o.now?.() ?? new Date()).toISOString();
  const ctx = probeContext(o);
  const results: ServiceResult[] = [];
  const addresses = new Map<string, Promise<Resolved>>();
  const hosts = expandHosts(o.targets);
  let hostIndex = 0;
  let current: ScanHost | undefined;
  let portIndex = o.ports.length;
  const nextJob = (): Job | undefined => {
    if (portIndex >= o.ports.length) {
      const n = hosts.next();
      if (n.done === true) return undefined;
      current = n.value;
      hostIndex++;
      portIndex = 0;
    }
    const port = o.ports[portIndex] as number;
    const job = { index: (hostIndex - 1) * o.ports.length + portIndex, host: current as ScanHost, port };
    portIndex++;
    return job;
  };
  const run = async (job: Job): Promise<ServiceResult> => {
    let a = addresses.get(job.host.host);
    if (a === undefined) {
      a = resolve(job.host);
      addresses.set(job.host.host, a);
    }
    const r = await a;
    if ('error' in r) {
      return { host: job.host.host, port: job.port, service: portHint(job.port).service, verdict: 'unknown', evidence: [`the host name does not resolve (${r.error})`] };
    }
    const ep: Endpoint = { host: job.host.host, address: r.address, port: job.port, servername: job.host.kind === 'name' ? job.host.host : undefined };
    try {
      const found = await probePort(ep, ctx);
      return r.note === undefined ? found : { ...found, evidence: [...found.evidence, r.note] };
    } catch (err) {
      // A probe is written never to throw; should one still, its port is reported and the scan goes on.
      return { host: job.host.host, port: job.port, service: portHint(job.port).service, verdict: 'unknown', evidence: [`the probe failed: ${peerText((err as Error).message)}`] };
    }
  };
  const worker = async (): Promise<void> => {
    for (let job = nextJob(); job !== undefined; job = nextJob()) {
      const r = await run(job);
      results[job.index] = r;
      o.onResult?.(r);
    }
  };
  const n = Math.max(1, o.concurrency ?? SCAN_DEFAULTS.concurrency);
  await Promise.all(Array.from({ length: n }, worker));
  const ordered = results.filter((r) => r !== undefined);
  return { scannedAt, results: ordered, summary: summarize(ordered) };
}
