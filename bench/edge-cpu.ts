// Micro-benchmark: gateway CPU time per QIDO-RS (or, with --wado BYTES, WADO-RS) request through the HTTPS edge to a fast static upstream (nginx),
// measured inside the gateway process (process.cpuUsage) around a wrk run, for several builds / configurations.
//
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/edge-cpu.js [--base DIR] [--rounds 3] [--seconds 5]
//   (PGW_EDGE_CPU_PROFILE=DIR writes each gateway's --cpu-prof there; bench/profile-summary.js reads it)
//   --base DIR --base-like on: the other build with the `on` config (an A/B of one change); without --base-like, the config before issue 14.
//   --close: a new TLS connection per request (wrk with Connection: close): the figure is then CPU per connection.
//   Each round prints the user and system parts of the figure.
//
// Variants, interleaved per round: `base` (another build's dist/, e.g. main before issue 14, when --base is
// given), `off` (this build, metrics listener and every alert rule off: the hooks without listeners), `on`
// (this build, defaults: metrics and all seven rules), `atna` (defaults plus an audit.syslog destination: a
// local TLS receiver that reads and discards); `metrics-only`, `rules-only` and `no-sweep` (defaults without the
// query-sweep rule) split `on`; `warn` is `on` at log level warn (no audit line per request), `flush0` is `on`
// with log.flushMs 0 (lines written at the end of each event-loop turn). --only a,b runs just those variants. The figure is CPU µs per request: noisy on a shared machine,
// so rounds are interleaved and the median is reported with the spread.

import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { freePort } from '../test/helpers/ports.js';
import { oathtool } from '../test/helpers/tools.js';
import { createIdentities, type BenchIdentities } from './lib/identities.js';
import { startStaticUpstream } from './lib/nginx.js';
import { runWrk, wrkScript } from './lib/wrk.js';
import { createCa, issueCertificate } from '../src/tls/issue.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, base: { type: 'string' }, rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '16' }, wado: { type: 'string' }, close: { type: 'boolean', default: false }, 'base-like': { type: 'string' } } });
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
/** --wado BYTES: WADO-RS instances of that many bytes instead of QIDO-RS searches. */
const wadoBytes = values.wado === undefined ? undefined : Number(values.wado);
/** --close: a new TLS connection per request (Connection: close), as the bench's user-qido; the figure is then CPU per connection. */
const close = values.close === true;
const here = join(process.cwd(), 'dist');

/** A QIDO-RS answer shaped like Orthanc's for one study (~1 KB of application/dicom+json). */
function qidoBody(): Buffer {
  const a = (vr: string, v: unknown): Record<string, unknown> => ({ vr, Value: [v] });
  return Buffer.from(JSON.stringify([{
    '00080005': a('CS', 'ISO_IR 100'), '00080020': a('DA', '20240101'), '00080030': a('TM', '101500'), '00080050': a('SH', 'ACC0001'),
    '00080056': a('CS', 'ONLINE'), '00080061': a('CS', 'CT'), '00080090': a('PN', { Alphabetic: 'Referring^Doctor' }),
    '00081190': a('UR', 'http://127.0.0.1:8042/dicom-web/studies/1.2.826.0.1.3680043.8.498.1'),
    '00100010': a('PN', { Alphabetic: 'Bench^Series' }), '00100020': a('LO', 'PGW-BENCH'), '00100030': a('DA', '19700101'), '00100040': a('CS', 'O'),
    '0020000D': a('UI', '1.2.826.0.1.3680043.8.498.1'), '00200010': a('SH', 'S1'), '00201206': a('IS', 1), '00201208': a('IS', 200),
  }]));
}

interface Variant { readonly name: string; readonly build: string; readonly config: Record<string, unknown> }

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-edge-cpu-'));
  const id: BenchIdentities = await createIdentities(dir, { identityUsers: 0, loginUsers: 0 });
  const upstreamPort = await freePort();
  const upstream = await startStaticUpstream(dir, upstreamPort, { qido: qidoBody(), wado: Buffer.alloc(wadoBytes ?? 16, 0x5a), big: { path: '/dicom-web/none', body: Buffer.alloc(16) }, boundary: 'b' });
  // The ATNA variant's receiver: TLS, mutual, reads and discards.
  const ca = createCa({ commonName: 'edge-cpu syslog CA' });
  const rx = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const cl = issueCertificate(ca, { commonName: 'gw', usage: 'client' });
  for (const [n, pem] of Object.entries({ 'syslog-ca.pem': ca.certPem, 'syslog-client.pem': cl.certPem, 'syslog-client.key': cl.keyPem })) writeFileSync(join(dir, n), pem);
  let syslogBytes = 0;
  const sink = createServer({ cert: rx.certPem, key: rx.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (s) => { s.on('data', (c: Buffer) => { syslogBytes += c.length; }); s.on('error', () => undefined); });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkPort = (sink.address() as { port: number }).port;

  const common = {
    tls: { cert: id.server.cert, key: id.server.key, clientCa: id.caFile, autoGenerate: false },
    upstream: { dicomweb: `http://127.0.0.1:${upstreamPort}/dicom-web`, dicom: { host: '127.0.0.1', port: 9, aeTitle: 'NONE' }, timeoutMs: 30_000 },
    users: { backend: 'file', file: id.usersFile }, devices: { file: id.devicesFile },
    roles: { bench: ['echo', 'search', 'retrieve', 'store'] }, log: { level: 'info' },
  };
  const listen = (metrics: boolean): Record<string, unknown> => ({ https: { host: '127.0.0.1', port: 0 }, dicom: { host: '127.0.0.1', port: 0 }, ...(metrics ? { metrics: { host: '127.0.0.1', port: 0 } } : { metrics: { host: '127.0.0.1', port: 0, enabled: false } }) });
  const rulesOff = Object.fromEntries(['query-sweep', 'bulk-retrieve', 'off-hours', 'new-source', 'refusal-burst', 'password-spray', 'association-flood'].map((r) => [r, { enabled: false }]));
  const variants: Variant[] = [
    { name: 'off', build: here, config: { ...common, listen: listen(false), alerts: { rules: rulesOff } } },
    { name: 'on', build: here, config: { ...common, listen: listen(true) } },
    { name: 'metrics-only', build: here, config: { ...common, listen: listen(true), alerts: { rules: rulesOff } } },
    { name: 'rules-only', build: here, config: { ...common, listen: listen(false) } },
    { name: 'warn', build: here, config: { ...common, listen: listen(true), log: { level: 'warn' } } },
    { name: 'flush0', build: here, config: { ...common, listen: listen(true), log: { level: 'info', flushMs: 0 } } },
    { name: 'no-sweep', build: here, config: { ...common, listen: listen(true), alerts: { rules: { 'query-sweep': { enabled: false } } } } },
    { name: 'atna', build: here, config: { ...common, listen: listen(true), audit: { syslog: [{ host: '127.0.0.1', port: sinkPort, servername: 'localhost', ca: join(dir, 'syslog-ca.pem'), cert: join(dir, 'syslog-client.pem'), key: join(dir, 'syslog-client.key') }] } } },
  ];
  // --base-like NAME: the base build with variant NAME's config (two builds of the same features, A/B); else the config before issue 14.
  const like = values['base-like'] === undefined ? undefined : variants.find((v) => v.name === values['base-like']);
  if (values['base-like'] !== undefined && like === undefined) throw new Error(`--base-like ${values['base-like']}: no such variant`);
  if (values.base !== undefined) variants.unshift({ name: 'base', build: values.base, config: like?.config ?? { ...common, listen: { https: { host: '127.0.0.1', port: 0 }, dicom: { host: '127.0.0.1', port: 0 } } } });
  const only = values.only?.split(',');
  if (only !== undefined) variants.splice(0, variants.length, ...variants.filter((v) => only.includes(v.name)));
  const script = wrkScript(dir);
  const results = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const v of variants) {
        const { us, user, system } = await measure(dir, v, id, script);
        results.get(v.name)?.push(us);
        console.log(`round ${round + 1} ${v.name.padEnd(5)} ${us.toFixed(1)} µs CPU per request (user ${user.toFixed(1)}, system ${system.toFixed(1)})`);
      }
    }
  } finally {
    await upstream.stop();
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\nvariant  median µs/request  (min–max)');
  for (const [name, xs] of results) {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`${name.padEnd(8)} ${(s[Math.floor(s.length / 2)] ?? Number.NaN).toFixed(1).padStart(8)}  (${(s[0] ?? 0).toFixed(1)}–${(s.at(-1) ?? 0).toFixed(1)})`);
  }
  console.log(`(ATNA receiver got ${(syslogBytes / 1e6).toFixed(1)} MB)`);
}

async function measure(dir: string, v: Variant, id: BenchIdentities, script: string): Promise<{ us: number; user: number; system: number }> {
  const configFile = join(dir, `${v.name}.yaml`);
  writeFileSync(configFile, stringify(v.config));
  const log = openSync(join(dir, `${v.name}.log`), 'w');
  const prof = process.env['PGW_EDGE_CPU_PROFILE'];
  const child = spawn(process.execPath, ['--single-threaded-gc', '--max-semi-space-size=4', '--min-semi-space-size=4', ...(prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${v.name}.cpuprofile`]), join(process.cwd(), 'dist-bench/bench/edge-cpu-child.js'), v.build, configFile], { stdio: ['ignore', log, 'inherit', 'pipe'] });
  const control = child.stdio[3] as unknown as NodeJS.ReadWriteStream;
  const lines = createInterface({ input: control })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done === true) throw new Error(`gateway ${v.name} exited: ${readFileSync(join(dir, `${v.name}.log`), 'utf8').slice(-2000)}`);
    return r.value;
  };
  const port = Number((await next()).split(' ')[1]);
  const ca = readFileSync(id.caFile);
  const code = await oathtool(id.viewer.totpSecret);
  const login = await fetchJson(port, ca, JSON.stringify({ username: id.viewer.username, password: id.viewer.password, totp: code }));
  const url = wadoBytes === undefined ? `https://127.0.0.1:${port}/dicom-web/studies?PatientID=PGW-BENCH` : `https://127.0.0.1:${port}/dicom-web/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5`;
  const headers = { authorization: `Bearer ${login.token}`, accept: wadoBytes === undefined ? 'application/dicom+json' : 'multipart/related; type="application/dicom"', ...(close ? { connection: 'close' } : {}) };
  await runWrk(script, { url, connections, threads: 2, seconds: 2, headers, closeEachRequest: close }); // warm-up
  control.write('start\n');
  const r = await runWrk(script, { url, connections, threads: 2, seconds, headers, closeEachRequest: close });
  control.write('stop\n');
  const [cpu, user, system] = (await next()).split(' ').slice(1).map(Number) as [number, number, number];
  control.write('quit\n');
  await new Promise((res) => child.once('exit', res));
  return { us: cpu / r.requests, user: user / r.requests, system: system / r.requests };
}

async function fetchJson(port: number, ca: Buffer, body: string): Promise<{ token: string }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/auth/login', method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { token: string }); } catch (e) { reject(e); } });
    });
    req.on('error', reject);
    req.end(body);
  });
}

await main();
