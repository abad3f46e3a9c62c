// Mixed-traffic soak: DIMSE (C-STORE, C-FIND, C-ECHO over mTLS and DIMSE tokens), DICOMweb (QIDO, WADO, STOW), logins,
// and hostile traffic (smuggling heads, bad tokens, path tricks, garbage PDUs, associations without identity) for a
// bounded time, with the gateway's RSS, event-loop delay, active handles and open descriptors sampled.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { makeInstance } from '../helpers/instances.js';
import { run } from '../helpers/tools.js';
import { framingCorpus } from '../differential/corpus.js';
import type { Environment } from './environment.js';

export interface SoakOptions {
  readonly durationMs: number;
  readonly probeFile: string;
  readonly log: (line: string) => void;
}

export interface SoakSample { readonly atS: number; readonly rssMb: number; readonly heapUsedMb: number; readonly eldP99Ms: number; readonly eldMaxMs: number; readonly handles: number; readonly fds: number }

export interface SoakReport {
  readonly durationMs: number;
  /** Operations by kind: how many, and how many got the expected answer. */
  readonly operations: Readonly<Record<string, { readonly n: number; readonly expected: number }>>;
  readonly unexpected: readonly string[];
  readonly samples: readonly SoakSample[];
  readonly unexpectedExits: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends raw bytes over TLS and returns what came back before the gateway closed (or 3 s passed). */
function rawTls(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
    const got: Buffer[] = [];
    const done = (): void => { clearTimeout(timer); s.destroy(); resolve(Buffer.concat(got)); };
    const timer = setTimeout(done, 3000);
    s.on('data', (c: Buffer) => got.push(c));
    s.on('close', done);
    s.on('error', () => undefined);
    s.once('secureConnect', () => s.write(bytes));
  });
}

export async function runSoak(env: Environment, o: SoakOptions): Promise<SoakReport> {
  const started = Date.now();
  const until = started + o.durationMs;
  const ops: Record<string, { n: number; expected: number }> = {};
  const unexpected: string[] = [];
  const note = (kind: string, ok: boolean, detail: string): void => {
    const e = (ops[kind] ??= { n: 0, expected: 0 });
    e.n++;
    if (ok) e.expected++;
    else if (unexpected.length < 50) unexpected.push(`${kind}: ${detail}`);
  };
  const bearer = { authorization: `Bearer ${env.user.token}` };
  const stored: { study: string; series: string; sop: string }[] = [];
  const gw = () => env.gateway();
  const loop = async (kind: string, every: number, fn: () => Promise<void>): Promise<void> => {
    while (Date.now() < until) {
      try { await fn(); } catch (err) { note(kind, false, `threw ${(err as Error).message}`); }
      await sleep(every);
    }
  };
  const storeBatch = async (identity: 'mtls' | 'jwt'): Promise<void> => {
    const files: string[] = [];
    for (let i = 0; i < 5; i++) {
      const inst = makeInstance({ pixelBytes: [2048, 16_384, 131_072][i % 3] ?? 2048, patientName: 'Soak^Synthetic', patientId: 'SOAK-1' });
      const f = join(env.dir, `soak-${inst.sopInstanceUid}.dcm`);
      writeFileSync(f, inst.buffer);
      files.push(f);
      stored.push({ study: inst.studyUid, series: inst.seriesUid, sop: inst.sopInstanceUid });
    }
    const tls = identity === 'mtls' ? ['+tls', env.device.key, env.device.cert, '+cf', env.caFile] : ['+tla', '+cf', env.caFile, '--jwt', env.user.jwtFile];
    const r = await run('storescu', ['-v', ...tls, '-aet', identity === 'mtls' ? 'CT01' : 'TESS_WS', '-aec', 'GATEWAY', '127.0.0.1', String(env.dicomPort), ...files]);
    const acks = (r.stdout + r.stderr).match(/Received Store Response \(Success\)/g)?.length ?? 0;
    note(`c-store (${identity})`, acks === files.length && r.code === 0, `${acks}/${files.length} acknowledged, exit ${r.code}`);
    for (const f of files) rmSync(f, { force: true });
  };
  const smuggling = framingCorpus({ token: env.user.token }).filter((c) => /CL\.TE|TE\.CL|obs-fold|bare LF|twice different|GET with a body/.test(c.name));
  const workers = [
    loop('c-store', 200, () => storeBatch('mtls')),
    loop('c-store', 200, () => storeBatch('jwt')),
    loop('c-find', 500, async () => {
      const r = await run('findscu', ['+tls', env.device.key, env.device.cert, '+cf', env.caFile, '-aet', 'CT01', '-aec', 'GATEWAY', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=SOAK-1', '-k', 'StudyInstanceUID', '127.0.0.1', String(env.dicomPort)]);
      note('c-find', r.code === 0, `exit ${r.code}: ${r.stderr.slice(0, 200)}`);
    }),
    loop('c-echo', 500, async () => {
      const r = await run('echoscu', ['+tls', env.device.key, env.device.cert, '+cf', env.caFile, '-aet', 'CT01', '-aec', 'GATEWAY', '127.0.0.1', String(env.dicomPort)]);
      note('c-echo', r.code === 0, `exit ${r.code}`);
    }),
    loop('qido-rs', 50, async () => {
      const r = await gw().request('GET', '/dicom-web/studies?PatientID=SOAK-1&limit=20', { headers: bearer });
      note('qido-rs', r.status === 200, `HTTP ${r.status}`);
    }),
    loop('wado-rs', 100, async () => {
      const s = stored[Math.floor(Math.random() * stored.length)];
      if (s === undefined) return;
      const r = await gw().request('GET', `/dicom-web/studies/${s.study}/series/${s.series}/instances/${s.sop}/metadata`, { headers: bearer });
      note('wado-rs', r.status === 200 || r.status === 404, `HTTP ${r.status}`);
    }),
    loop('stow-rs', 300, async () => {
      const inst = makeInstance({ pixelBytes: 16_384, patientId: 'SOAK-1', patientName: 'Soak^Synthetic' });
      const b = 'soak';
      const body = Buffer.concat([Buffer.from(`--${b}\r\nContent-Type: application/dicom\r\n\r\n`), inst.buffer, Buffer.from(`\r\n--${b}--\r\n`)]);
      const r = await gw().request('POST', '/dicom-web/studies', { headers: { ...bearer, 'content-type': `multipart/related; type="application/dicom"; boundary=${b}` }, body });
      note('stow-rs', r.status === 200, `HTTP ${r.status}`);
    }),
    loop('login (wrong password)', 1000, async () => {
      const r = await gw().request('POST', '/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'tess', password: 'wrong-password', totp: '000000' }) });
      note('login (wrong password)', r.status === 401 || r.status === 429, `HTTP ${r.status}`);
    }),
    loop('session check', 200, async () => {
      const r = await gw().request('GET', '/auth/session', { headers: bearer });
      note('session check', r.status === 200, `HTTP ${r.status}`);
    }),
    loop('hostile: bad token', 100, async () => {
      const r = await gw().request('GET', '/dicom-web/studies', { headers: { authorization: `Bearer ${randomBytes(12).toString('base64url')}.${randomBytes(20).toString('base64url')}.${randomBytes(32).toString('base64url')}` } });
      note('hostile: bad token', r.status === 401, `HTTP ${r.status}`);
    }),
    loop('hostile: path tricks', 100, async () => {
      const p = ['/dicom-web/studies/%2e%2e/system', '/dicom-web//studies', '/dicom-web/studies/1.2/../../tools', '/tools/find', '/dicom-web/studies;x=1'][Math.floor(Math.random() * 5)] as string;
      const r = await gw().request('GET', p, { headers: bearer });
      note('hostile: path tricks', r.status === 400 || r.status === 404, `${p} → HTTP ${r.status}`);
    }),
    loop('hostile: smuggling', 200, async () => {
      const c = smuggling[Math.floor(Math.random() * smuggling.length)];
      if (c === undefined) return;
      const got = (await rawTls(env.httpsPort, c.bytes)).toString('latin1');
      note('hostile: smuggling', /^HTTP\/1\.1 (400|501)/.test(got), `${c.name} → ${got.slice(0, 40)}`);
    }),
    loop('hostile: garbage PDUs', 300, async () => {
      const got = await rawTls(env.dicomPort, Buffer.concat([Buffer.from([0x01, 0x00, 0x00, 0x00, 0x00, 0x10]), randomBytes(16 + Math.floor(Math.random() * 64))]));
      note('hostile: garbage PDUs', got.length === 0 || got[0] === 0x07 || got[0] === 0x03, `answer type ${got[0]}`);
    }),
    loop('hostile: no identity', 500, async () => {
      const r = await run('echoscu', ['+tla', '+cf', env.caFile, '-aet', 'NOBODY', '-aec', 'GATEWAY', '127.0.0.1', String(env.dicomPort)]);
      note('hostile: no identity', r.code !== 0 && /Rejected/i.test(r.stdout + r.stderr), `exit ${r.code}`);
    }),
  ];
  const progress = setInterval(() => o.log(`${Math.round((Date.now() - started) / 1000)} s: ${Object.entries(ops).map(([k, v]) => `${k} ${v.n}`).join(', ')}`), 60_000);
  await Promise.all(workers);
  clearInterval(progress);
  // Samples from the probe inside the gateway, plus its open descriptors counted from /proc.
  const samples: SoakSample[] = [];
  if (existsSync(o.probeFile)) {
    for (const line of readFileSync(o.probeFile, 'utf8').split('\n')) {
      if (line === '') continue;
      const s = JSON.parse(line) as { t: number; rssMb: number; heapUsedMb: number; eldP99Ms: number; eldMaxMs: number; handles: number; fds?: number };
      samples.push({ atS: Math.round((s.t - started) / 1000), rssMb: s.rssMb, heapUsedMb: s.heapUsedMb, eldP99Ms: s.eldP99Ms, eldMaxMs: s.eldMaxMs, handles: s.handles, fds: s.fds ?? -1 });
    }
  }
  return { durationMs: Date.now() - started, operations: ops, unexpected, samples, unexpectedExits: [...env.unexpectedExits] };
}
