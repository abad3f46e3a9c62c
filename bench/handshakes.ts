// Association rate with RSA, ECDSA and resumed TLS sessions (issue 19 §4), gateway against stunnel with the same certificates.
//
//   npx tsc -p bench/tsconfig.json && node dist-bench/bench/handshakes.js [--rounds 3] [--count 200] [--only a,b] [--profile DIR]
//
// Each association, from an in-process client, one after another: TCP + TLS handshake (mTLS with an RSA device
// certificate), A-ASSOCIATE, C-ECHO, A-RELEASE, close. The SCP behind both proxies is dcmtk's storescp. Variants,
// interleaved per round: the gateway and stunnel each with the RSA 2048 server certificate (the client offers only
// RSA signature algorithms), with the ECDSA P-256 one (the client's defaults), and with the ECDSA one and session
// resumption (the client presents the ticket of its previous association, as browsers and TLS libraries do; `-resumed`
// offers the newest ticket again when a resumed association brought none, `-single-use` offers each ticket once).
// The gateway serves both certificates from one process (tls.ecdsa's default pair beside tls.cert); stunnel gets
// one service per certificate. Besides associations/s (the client runs in this process, so its own RSA
// CertificateVerify and the proxy's work add up), the proxy's CPU time per association (/proc) is reported: that
// is what a server certificate or a resumed session changes. --profile DIR writes the gateway's --cpu-prof there.
// Figures on a shared machine are indicative: medians of interleaved rounds.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { buildRelease } from '../src/dicom/abort.js';
import { buildAssociateRq } from '../src/dicom/associate-build.js';
import { buildCommandSet } from '../src/dicom/command-build.js';
import { CommandTag, PduType } from '../src/dicom/constants.js';
import { buildPData } from '../src/dicom/p-data.js';
import { createCa, issueCertificate } from '../src/tls/issue.js';
import { issueEcdsaServerCertificate } from '../src/tls/issue-ecdsa.js';
import { freePort } from '../test/helpers/ports.js';
import { startProcess, waitForPort } from '../test/helpers/tools.js';
import { startGatewayProcess } from './lib/gateway-process.js';
import { BENCH_ROLE, CALLING_AE, type BenchIdentities } from './lib/identities.js';
import { startStunnel } from './lib/stunnel.js';
import { cpuSeconds, machineLoad } from './lib/proc.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, profile: { type: 'string' }, rounds: { type: 'string', default: '3' }, count: { type: 'string', default: '200' } } });
const rounds = Number(values.rounds);
const count = Number(values.count);
const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT = '1.2.840.10008.1.2';
const SCP_AE = 'BENCHSCP';
/** Signature algorithms of a client that verifies RSA only: the server must present its RSA certificate. */
const RSA_ONLY = 'RSA-PSS+SHA256:RSA-PSS+SHA384:RSA+SHA256:RSA+SHA384';

/**
 * How the client resumes: not at all; `reuse`, node's client: the newest ticket it was given, offered again when a
 * resumed connection brings none; `single-use`: each ticket offered once (OpenSSL's client, as wrk, and browsers
 * treat TLS 1.3 tickets so), so a resumed connection that brings no new ticket is followed by a full handshake.
 */
type Resume = false | 'reuse' | 'single-use';
interface Variant { readonly id: string; readonly port: number; readonly sigalgs?: string; readonly resume: Resume; /** The proxy process whose CPU time is counted. */ readonly pid: number }
interface Pki { readonly ca: string; readonly cert: string; readonly key: string }

/** Reads PDUs off a socket: resolves the next whole PDU's type. */
function pduReader(socket: TLSSocket): () => Promise<number> {
  let buf = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let closed = false;
  socket.on('data', (c: Buffer) => { buf = Buffer.concat([buf, c]); wake?.(); });
  socket.on('close', () => { closed = true; wake?.(); });
  return async () => {
    for (;;) {
      if (buf.length >= 6 && buf.length >= 6 + buf.readUInt32BE(2)) {
        const type = buf[0] as number;
        buf = buf.subarray(6 + buf.readUInt32BE(2));
        return type;
      }
      if (closed) throw new Error('connection closed');
      await new Promise<void>((resolve) => { wake = resolve; });
    }
  };
}

const RQ = buildAssociateRq({ calledAe: SCP_AE, callingAe: CALLING_AE, maxPduLength: 16_384, presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }] });
const ECHO = buildPData(1, true, buildCommandSet([
  [CommandTag.AffectedSopClassUid, { ui: VERIFICATION }], [CommandTag.CommandField, { us: 0x0030 }],
  [CommandTag.MessageId, { us: 1 }], [CommandTag.CommandDataSetType, { us: 0x0101 }],
]));
const RELEASE = buildRelease(PduType.ReleaseRq);

/** One association; resolves with whether TLS resumed and the session ticket to use next. */
async function associate(v: Variant, pki: Pki, session: Buffer | undefined): Promise<{ reused: boolean; session: Buffer | undefined }> {
  // Nagle off on the TCP socket itself (a TLSSocket's setNoDelay does not reach it), as dcmtk with TCP_NODELAY=1.
  const tcp = netConnect({ host: '127.0.0.1', port: v.port, noDelay: true });
  const socket = connect({
    socket: tcp, servername: 'localhost', ca: pki.ca, cert: pki.cert, key: pki.key,
    ...(v.sigalgs === undefined ? {} : { sigalgs: v.sigalgs }), ...(session === undefined ? {} : { session }),
  });
  let next: Buffer | undefined;
  socket.on('session', (s: Buffer) => { next = s; });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const failed = new Promise<never>((_, reject) => socket.once('error', reject));
  const read = pduReader(socket);
  await Promise.race([new Promise<void>((resolve) => socket.once('secureConnect', () => resolve())), failed]);
  const reused = socket.isSessionReused();
  socket.write(RQ);
  if (await read() !== PduType.AssociateAc) throw new Error(`${v.id}: association not accepted`);
  socket.write(ECHO);
  if (await read() !== PduType.PData) throw new Error(`${v.id}: no C-ECHO response`);
  socket.write(RELEASE);
  if (await read() !== PduType.ReleaseRp) throw new Error(`${v.id}: no A-RELEASE-RP`);
  socket.end();
  await closed;
  return { reused, session: next };
}

async function runVariant(v: Variant, pki: Pki): Promise<{ perSecond: number; resumed: number; cpuMs: number }> {
  let session: Buffer | undefined;
  let resumed = 0;
  // One untimed association: the first full handshake, and a ticket for the resumed variant.
  session = (await associate(v, pki, undefined)).session;
  const cpu0 = cpuSeconds(v.pid);
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const r = await associate(v, pki, v.resume === false ? undefined : session);
    if (r.reused) resumed++;
    if (v.resume === 'single-use' || r.session !== undefined) session = r.session;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { perSecond: count / seconds, resumed, cpuMs: ((cpuSeconds(v.pid) - cpu0) * 1000) / count };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? Number.NaN; };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-handshakes-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const ca = createCa({ commonName: 'pacs-gateway bench CA' });
    const names = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
    const rsa = issueCertificate(ca, { commonName: 'localhost', usage: 'server', ...names });
    const ec = issueEcdsaServerCertificate(ca, { commonName: 'localhost', ...names });
    const device = issueCertificate(ca, { commonName: 'bench-modality', usage: 'client' });
    const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text, { mode: 0o600 }); return p; };
    const caFile = file('ca.crt', ca.certPem);
    const server = { cert: file('server.crt', rsa.certPem), key: file('server.key', rsa.keyPem) };
    // The default tls.ecdsa pair beside tls.cert: the gateway serves both.
    const ecFiles = { cert: file('server-ec.crt', ec.certPem), key: file('server-ec.key', ec.keyPem) };
    const devicesFile = join(dir, 'devices.yaml');
    writeFileSync(devicesFile, stringify({ devices: { 'bench-modality': { role: BENCH_ROLE, aeTitles: [CALLING_AE], fingerprint: device.fingerprint256 } } }));
    const usersFile = join(dir, 'users.yaml');
    writeFileSync(usersFile, stringify({ users: {} }));
    const identities = { caFile, server, devicesFile, usersFile } as unknown as BenchIdentities;

    const scpPort = await freePort();
    const scp = await startProcess('storescp', ['--ignore', '-aet', SCP_AE, String(scpPort)], { cwd: dir });
    stops.push(async () => { await scp.stop(); });
    await waitForPort(scpPort, '127.0.0.1', 15_000);
    const gw = await startGatewayProcess({
      name: 'gateway', dir, httpsPort: await freePort(), dicomPort: await freePort(), identities,
      dicomweb: 'http://127.0.0.1:9/dicom-web', wadoUri: 'http://127.0.0.1:9/wado', dicom: { host: '127.0.0.1', port: scpPort, aeTitle: SCP_AE },
      ...(values.profile === undefined ? {} : { profileDir: values.profile }),
    });
    stops.push(() => gw.stop());
    const stRsa = await freePort();
    const stEc = await freePort();
    const st = await startStunnel(dir, identities, [
      { name: 'rsa', accept: stRsa, connect: scpPort, mutual: true },
      { name: 'ecdsa', accept: stEc, connect: scpPort, mutual: true, cert: ecFiles },
    ]);
    stops.push(() => st.stop());

    const all: Variant[] = [
      { id: 'gateway-rsa', port: gw.dicomPort, sigalgs: RSA_ONLY, resume: false, pid: gw.pid },
      { id: 'gateway-ecdsa', port: gw.dicomPort, resume: false, pid: gw.pid },
      { id: 'gateway-ecdsa-resumed', port: gw.dicomPort, resume: 'reuse', pid: gw.pid },
      { id: 'gateway-ecdsa-single-use', port: gw.dicomPort, resume: 'single-use', pid: gw.pid },
      { id: 'stunnel-rsa', port: stRsa, sigalgs: RSA_ONLY, resume: false, pid: st.pid },
      { id: 'stunnel-ecdsa', port: stEc, resume: false, pid: st.pid },
      { id: 'stunnel-ecdsa-resumed', port: stEc, resume: 'reuse', pid: st.pid },
      { id: 'stunnel-ecdsa-single-use', port: stEc, resume: 'single-use', pid: st.pid },
    ];
    const only = values.only?.split(',');
    const variants = only === undefined ? all : all.filter((v) => only.includes(v.id));
    const pki = { ca: ca.certPem, cert: device.certPem, key: device.keyPem };
    const results = new Map<string, { perSecond: number[]; resumed: number[]; cpuMs: number[] }>(variants.map((v) => [v.id, { perSecond: [], resumed: [], cpuMs: [] }]));
    for (let r = 0; r < rounds; r++) {
      for (const v of variants) {
        const x = await runVariant(v, pki);
        results.get(v.id)?.perSecond.push(x.perSecond);
        results.get(v.id)?.resumed.push(x.resumed);
        results.get(v.id)?.cpuMs.push(x.cpuMs);
        process.stderr.write(`round ${r + 1} ${v.id}: ${x.perSecond.toFixed(1)} associations/s, proxy CPU ${x.cpuMs.toFixed(2)} ms each, ${x.resumed}/${count} resumed\n`);
      }
    }
    const base = median(results.get('gateway-rsa')?.perSecond ?? []);
    const load = machineLoad();
    console.log(`${count} associations per variant and round, ${rounds} interleaved rounds; load average ${load.load1.toFixed(1)} on ${load.cpus} CPUs at the end`);
    console.log(`| variant | associations/s (median) | range | × gateway RSA | proxy CPU ms per association (median) | range | resumed |`);
    console.log('|---|---|---|---|---|---|---|');
    for (const v of variants) {
      const x = results.get(v.id) ?? { perSecond: [], resumed: [], cpuMs: [] };
      const m = median(x.perSecond);
      console.log(`| ${v.id} | ${m.toFixed(1)} | ${Math.min(...x.perSecond).toFixed(1)}–${Math.max(...x.perSecond).toFixed(1)} | ${Number.isFinite(base) ? (m / base).toFixed(2) : '–'} | ${median(x.cpuMs).toFixed(2)} | ${Math.min(...x.cpuMs).toFixed(2)}–${Math.max(...x.cpuMs).toFixed(2)} | ${median(x.resumed)}/${count} |`);
    }
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
