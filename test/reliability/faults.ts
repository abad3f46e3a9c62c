// Faults with nothing lost: C-STOREs (storescu, mTLS and DIMSE-token user identity) and STOW-RS uploads through the
// gateway while the PACS, Redis, the network to the PACS and the gateway itself fail; then every acknowledged
// instance is looked up in Orthanc and compared byte for byte (apart from group 0002).

import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { datasetAfterMeta, makeInstance } from '../helpers/instances.js';
import { getInstanceFile } from '../helpers/orthanc.js';
import { run } from '../helpers/tools.js';
import type { Environment } from './environment.js';
import { RssSampler } from './rss.js';

export interface FaultOptions {
  readonly stores: number;
  readonly stows: number;
  /** Concurrent DIMSE associations (storescu processes). */
  readonly associations: number;
  /** Instances per association before it is released. */
  readonly perAssociation: number;
  /** Concurrent STOW-RS uploaders. */
  readonly uploaders: number;
  /** Time between two faults. */
  readonly faultEveryMs: number;
  readonly log: (line: string) => void;
}

export type FaultKind = 'pacs-killed' | 'redis-killed' | 'network-stall' | 'gateway-killed';

/** What a client saw for one instance it sent. */
type Outcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly kind: 'dimse-failure-status' | 'association-rejected' | 'association-aborted' | 'http-5xx' | 'gateway-down'; readonly detail: string }
  | { readonly ok: false; readonly kind: 'improper'; readonly detail: string };

interface Item { readonly index: number; readonly via: 'c-store' | 'stow-rs'; readonly file: string; readonly sopInstanceUid: string; outcome?: Outcome }

export interface FaultReport {
  readonly sent: number;
  readonly acknowledged: number;
  readonly failed: Readonly<Record<string, number>>;
  readonly verified: number;
  readonly missing: readonly string[];
  readonly different: readonly string[];
  readonly improper: readonly string[];
  readonly faults: readonly { readonly kind: FaultKind; readonly atMs: number }[];
  readonly unexpectedExits: readonly string[];
  readonly rss: { readonly maxMb: number; readonly firstMb: number; readonly lastMb: number; readonly samples: number };
  readonly durationMs: number;
}

const SIZES = [2048, 2048, 2048, 16_384, 16_384, 65_536, 262_144, 1_048_576];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs storescu on `items` over one association; returns an outcome per item from its log. */
async function storeBatch(env: Environment, items: Item[], identity: 'mtls' | 'jwt', gatewayDown: () => boolean): Promise<void> {
  const tls = identity === 'mtls' ? ['+tls', env.device.key, env.device.cert, '+cf', env.caFile] : ['+tla', '+cf', env.caFile, '--jwt', env.user.jwtFile];
  const started = Date.now();
  const r = await run('storescu', ['-v', '-nh', ...tls, '-aet', identity === 'mtls' ? 'CT01' : 'TESS_WS', '-aec', 'GATEWAY', '127.0.0.1', String(env.dicomPort), ...items.map((i) => i.file)], { timeoutMs: 120_000 });
  const text = `${r.stdout}\n${r.stderr}`;
  const byFile = new Map(items.map((i) => [i.file, i]));
  let current: Item | undefined;
  for (const line of text.split('\n')) {
    const sending = /Sending file: (.+)$/.exec(line);
    if (sending !== null) { current = byFile.get(sending[1]?.trim() ?? ''); continue; }
    const rsp = /Received Store Response \((.+)\)/.exec(line);
    if (rsp !== null && current !== undefined && current.outcome === undefined) {
      current.outcome = rsp[1] === 'Success' ? { ok: true } : { ok: false, kind: 'dimse-failure-status', detail: rsp[1] ?? '' };
    }
  }
  // Items without a response: the association was refused, aborted or cut.
  const down = gatewayDown() || Date.now() - started < 0;
  let kind: Outcome = { ok: false, kind: 'improper', detail: `no response; storescu said: ${text.split('\n').filter((l) => /^[EF]:/.test(l)).slice(0, 3).join(' / ')}` };
  if (/Association Rejected/i.test(text)) kind = { ok: false, kind: 'association-rejected', detail: (/Reason: (.+)/.exec(text)?.[1] ?? 'rejected').trim() };
  else if (/Peer aborted Association|Association Aborted|A-ABORT/i.test(text)) kind = { ok: false, kind: 'association-aborted', detail: 'A-ABORT' };
  else if (down || /Connection refused|TCP Initialization Error|Network .*closed|Broken pipe|reset by peer/i.test(text)) {
    kind = down ? { ok: false, kind: 'gateway-down', detail: 'the gateway was killed' } : kind;
  }
  for (const i of items) if (i.outcome === undefined) i.outcome = kind;
}

/** The STOW-RS answer (PS3.18 §10.5.3) lists the instance under Referenced SOP Sequence and not under Failed SOP Sequence. */
function stored(text: string, sopInstanceUid: string): boolean {
  try {
    const a = JSON.parse(text) as Record<string, { Value?: Record<string, { Value?: unknown[] }>[] }>;
    const uids = (tag: string): unknown[] => (a[tag]?.Value ?? []).flatMap((item) => item['00081155']?.Value ?? []);
    return uids('00081199').includes(sopInstanceUid) && !uids('00081198').includes(sopInstanceUid);
  } catch {
    return false;
  }
}

function stowBody(file: Buffer): { body: Buffer; type: string } {
  const b = `pgw-fault-${Math.random().toString(36).slice(2)}`;
  return { body: Buffer.concat([Buffer.from(`--${b}\r\nContent-Type: application/dicom\r\n\r\n`), file, Buffer.from(`\r\n--${b}--\r\n`)]), type: `multipart/related; type="application/dicom"; boundary=${b}` };
}

function stow(env: Environment, item: Item, gatewayDown: () => boolean): Promise<void> {
  const { body, type } = stowBody(readFileSync(item.file));
  return new Promise((resolve) => {
    const req = httpsRequest({
      host: '127.0.0.1', port: env.httpsPort, path: '/dicom-web/studies', method: 'POST', servername: 'localhost', ca: env.caPem, agent: false,
      headers: { authorization: `Bearer ${env.user.token}`, 'content-type': type, accept: 'application/dicom+json', 'content-length': String(body.length) },
      timeout: 60_000,
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status === 200 && stored(text, item.sopInstanceUid)) item.outcome = { ok: true };
        else if (status >= 500) item.outcome = { ok: false, kind: 'http-5xx', detail: String(status) };
        else if (status === 200 || status === 202 || status === 409) item.outcome = { ok: false, kind: 'improper', detail: `HTTP ${status} without this instance stored: ${text.slice(0, 200)}` };
        else item.outcome = { ok: false, kind: 'improper', detail: `HTTP ${status}: ${text.slice(0, 200)}` };
        resolve();
      });
      res.on('error', () => { item.outcome = gatewayDown() ? { ok: false, kind: 'gateway-down', detail: 'answer cut' } : { ok: false, kind: 'improper', detail: 'answer cut' }; resolve(); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { item.outcome ??= gatewayDown() ? { ok: false, kind: 'gateway-down', detail: e.message } : { ok: false, kind: 'improper', detail: `request failed: ${e.message}` }; resolve(); });
    req.end(body);
  });
}

export async function runFaults(env: Environment, o: FaultOptions): Promise<FaultReport> {
  const started = Date.now();
  const items: Item[] = [];
  let cycleDone = false;
  /**
   * The next instance to send, made when needed (dcmjs, mixed sizes, random pixels, no patient data):
   * at least `stores` C-STOREs and `stows` uploads, and more until every kind of fault has happened once.
   */
  const next = (via: Item['via']): Item | undefined => {
    const made = items.filter((i) => i.via === via).length;
    if (made >= (via === 'c-store' ? o.stores : o.stows) && cycleDone) return undefined;
    const i = items.length;
    const inst = makeInstance({ pixelBytes: SIZES[i % SIZES.length] ?? 2048, patientName: 'Fault^Synthetic', patientId: `FAULT-${i % 50}` });
    const file = join(env.dir, `i${i}.dcm`);
    writeFileSync(file, inst.buffer);
    const item: Item = { index: i, via, file, sopInstanceUid: inst.sopInstanceUid };
    items.push(item);
    return item;
  };
  const rss = new RssSampler(() => env.gateway().process.child.pid);
  rss.start(1000);
  let gatewayDownSince: number | undefined;
  let lastGatewayDown = 0;
  // A client error within 2 s of a gateway kill window is put down to the kill.
  const gatewayDown = (): boolean => gatewayDownSince !== undefined || Date.now() - lastGatewayDown < 2000;
  const faults: { kind: FaultKind; atMs: number }[] = [];
  let running = true;

  const faultLoop = (async () => {
    const cycle: FaultKind[] = ['pacs-killed', 'redis-killed', 'network-stall', 'gateway-killed'];
    for (let n = 0; running; n++) {
      await sleep(o.faultEveryMs);
      if (!running) break;
      const kind = cycle[n % cycle.length] as FaultKind;
      faults.push({ kind, atMs: Date.now() - started });
      o.log(`fault: ${kind} at ${((Date.now() - started) / 1000).toFixed(1)} s`);
      if (kind === 'pacs-killed') { await env.orthanc.kill(); await sleep(1500); await env.orthanc.restart(); }
      if (kind === 'redis-killed') { await env.redis.kill(); await sleep(2000); await env.redis.restart(); }
      if (kind === 'network-stall') { env.pacsDicomLink.pause(); env.pacsHttpLink.pause(); await sleep(3000); env.pacsDicomLink.resume(); env.pacsHttpLink.resume(); }
      if (kind === 'gateway-killed') {
        gatewayDownSince = Date.now();
        await env.killGateway();
        await sleep(500);
        await env.startGateway();
        gatewayDownSince = undefined;
        lastGatewayDown = Date.now();
      }
      if (n === cycle.length - 1) cycleDone = true;
    }
  })();

  let done = 0;
  const dimseWorkers = Array.from({ length: o.associations }, async (_, w) => {
    for (let n = 0; ; n++) {
      const batch: Item[] = [];
      for (let k = 0; k < o.perAssociation; k++) { const item = next('c-store'); if (item !== undefined) batch.push(item); }
      if (batch.length === 0) return;
      await storeBatch(env, batch, (w + n) % 2 === 0 ? 'mtls' : 'jwt', gatewayDown);
      done += batch.length;
      // A client that was refused waits a moment before its next association, as a modality's retry timer does.
      if (batch.some((i) => i.outcome?.ok !== true)) await sleep(1000);
    }
  });
  const stowWorkers = Array.from({ length: o.uploaders }, async () => {
    for (;;) {
      const item = next('stow-rs');
      if (item === undefined) return;
      await stow(env, item, gatewayDown);
      done++;
      if (item.outcome?.ok !== true) await sleep(1000);
    }
  });
  const progress = setInterval(() => o.log(`${done} sent, ${items.filter((i) => i.outcome?.ok === true).length} acknowledged`), 15_000);
  await Promise.all([...dimseWorkers, ...stowWorkers]);
  clearInterval(progress);
  running = false;
  await faultLoop;
  rss.stop();

  // Afterwards: every acknowledged instance must be in the PACS with the same data set.
  const acked = items.filter((i) => i.outcome?.ok === true);
  const missing: string[] = [];
  const different: string[] = [];
  let verified = 0;
  for (let k = 0; k < acked.length; k += 8) {
    await Promise.all(acked.slice(k, k + 8).map(async (i) => {
      const stored = await getInstanceFile(env.orthanc, i.sopInstanceUid);
      if (stored === undefined) { missing.push(`${i.via} ${i.sopInstanceUid}`); return; }
      if (!datasetAfterMeta(stored).equals(datasetAfterMeta(readFileSync(i.file)))) { different.push(`${i.via} ${i.sopInstanceUid}`); return; }
      verified++;
    }));
  }
  const failed: Record<string, number> = {};
  const improper: string[] = [];
  for (const i of items) {
    const oc = i.outcome;
    if (oc === undefined) { improper.push(`${i.via} ${i.sopInstanceUid}: no outcome`); continue; }
    if (oc.ok) continue;
    failed[oc.kind] = (failed[oc.kind] ?? 0) + 1;
    if (oc.kind === 'improper') improper.push(`${i.via} ${i.sopInstanceUid}: ${oc.detail}`);
  }
  const s = rss.summary();
  return {
    sent: items.length, acknowledged: acked.length, failed, verified, missing, different, improper, faults,
    unexpectedExits: [...env.unexpectedExits], rss: s, durationMs: Date.now() - started,
  };
}
