// TLS session tickets on both listeners (issue 19 §4): resumption really happens, and a resumed
// session is held to the same identity checks as a full handshake.
//
// Attacks: a device removed from the device list, revoked in the CRL, or whose certificate expired, after its ticket
// was issued comes back with the ticket; a ticket from another deployment is shown to this one; a
// resumed HTTPS connection without its session cookie or token asks for DICOMweb.

import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import t, { type Test } from 'tap';
import { parse, stringify } from 'yaml';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { DeviceRegistry } from '../../src/identity/device-registry.js';
import { loadCa } from '../../src/tls/ca-store.js';
import { issueCertificate } from '../../src/tls/issue.js';
import { tlsFilePaths } from '../../src/tls/tls-paths.js';
import { certsOk, issueClient, prepareCa } from '../helpers/certs.js';
import { redisStateConfig, startGateway, type TestGateway } from '../helpers/gateway.js';
import { fakeUpstream } from '../dicom/helpers/harness.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/tools.js';
import { periodKey, ticketWrapKey } from '../../src/tls/ticket-keys.js';
import type { StateStore } from '../../src/state/store.js';
import type { Redis } from 'ioredis';

/** Just enough of a store to read one record as the Redis store writes it (a hash with field `j`). */
class ReadOnlyRedisRecord {
  constructor(readonly client: Redis, readonly prefix: string) {}
  async getRecord<T>(key: string): Promise<T | null> {
    const j = await this.client.hget(`${this.prefix}${key}`, 'j');
    return j === null ? null : JSON.parse(j) as T;
  }
}

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT = '1.2.840.10008.1.2';

interface Visit { readonly reused: boolean; readonly answer: Buffer; readonly session: Buffer | undefined }
interface Client { readonly cert: string; readonly key: string }

/** One TLS connection: sends `request`, reads until `done` says the answer is whole (or the server closes), keeps the ticket. */
async function visit(port: number, ca: string, client: Client | undefined, request: Buffer, done: (b: Buffer) => boolean, session?: Buffer, maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): Promise<Visit> {
  const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, maxVersion, ...client, ...(session === undefined ? {} : { session }) });
  socket.on('error', () => undefined);
  let next: Buffer | undefined;
  socket.on('session', (s: Buffer) => { next = s; });
  let answer = Buffer.alloc(0);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => { socket.once('secureConnect', () => resolve()); void closed.then(resolve); });
  const reused = socket.isSessionReused();
  socket.on('data', (c: Buffer) => {
    answer = Buffer.concat([answer, c]);
    if (done(answer)) socket.end();
  });
  socket.write(request);
  await closed;
  return { reused, answer, session: next };
}

const httpGet = (path: string): Buffer => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
const httpDone = (): boolean => false; // Connection: close: the server ends it
const associateRq = (callingAe: string): Buffer => buildAssociateRq({
  calledAe: 'GATEWAY', callingAe, maxPduLength: 16_384,
  presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }],
});
/** The first whole PDU arrived. */
const pduDone = (b: Buffer): boolean => b.length >= 6 && b.length >= 6 + b.readUInt32BE(2);
/** 0x02 A-ASSOCIATE-AC; 0x03 A-ASSOCIATE-RJ with result 1 (permanent): refused. */
function pduType(b: Buffer): number { return b[0] ?? -1; }

async function https(gw: TestGateway, client: Client | undefined, path = '/', session?: Buffer): Promise<Visit & { text: string }> {
  const v = await visit(gw.httpsPort, gw.caPem, client, httpGet(path), httpDone, session);
  return { ...v, text: v.answer.toString('latin1') };
}

async function dicom(gw: TestGateway, client: Client | undefined, ae: string, session?: Buffer): Promise<Visit> {
  return visit(gw.dicomPort, gw.caPem, client, associateRq(ae), pduDone, session);
}

function clientOf(files: { cert: string; key: string }): Client {
  return { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') };
}

/** A second deployment or replica with the same certificate files and device list as `gw`. */
function sameFiles(gw: TestGateway): (dir: string) => Promise<void> {
  return async (dir) => {
    cpSync(join(gw.dir, 'certs'), join(dir, 'certs'), { recursive: true });
    cpSync(join(gw.dir, 'config/devices.yaml'), join(dir, 'config/devices.yaml'));
  };
}

const noAutoCerts = { tls: { autoGenerate: false } };

/** A stand-in PACS that accepts every association, so an admitted device gets A-ASSOCIATE-AC. */
async function pacs(t: Test): Promise<Record<string, unknown>> {
  const u = await fakeUpstream({ mode: 'accept' });
  t.teardown(() => u.close());
  return { ...noAutoCerts, upstream: { dicom: { host: '127.0.0.1', port: u.port, aeTitle: 'ORTHANC' } } };
}

t.test('memory store: tickets resume on both listeners; a resumed session gets every identity check', async (t) => {
  const gw = await startGateway({ prepare: prepareCa, dicom: true, config: await pacs(t) });
  t.teardown(() => gw.stop());
  const dev = clientOf((await issueClient(gw.dir, 'ws-tix', 'radiologist', ['WSTIX'])).files);
  await gw.gateway.reload();

  // HTTPS: a full handshake, then a resumed one; the device is the device on both.
  const h1 = await https(gw, dev);
  t.match(h1.text, /Authenticated as device ws-tix/);
  t.ok(h1.session, 'the client got a ticket');
  const h2 = await https(gw, dev, '/', h1.session);
  t.ok(h2.reused, 'HTTPS: the session is resumed');
  t.match(h2.text, /Authenticated as device ws-tix/, 'HTTPS: a resumed session of a valid device is the device');

  // DICOM: the same on the DIMSE listener.
  const d1 = await dicom(gw, dev, 'WSTIX');
  t.equal(pduType(d1.answer), 0x02, 'DICOM: full handshake, A-ASSOCIATE-AC');
  const d2 = await dicom(gw, dev, 'WSTIX', d1.session);
  t.ok(d2.reused, 'DICOM: the session is resumed');
  t.equal(pduType(d2.answer), 0x02, 'DICOM: a resumed session of a valid device is accepted');

  // The metric tells full handshakes from resumed ones, per listener (what an admin reads to see resumption work).
  const metrics = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
  const handshakes = (channel: string, resumed: string): number =>
    Number(new RegExp(`^pacs_gateway_tls_handshakes_total\\{channel="${channel}",resumed="${resumed}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
  t.equal(handshakes('https', 'true'), 1, 'metrics: one resumed HTTPS handshake');
  t.equal(handshakes('https', 'false'), 1, 'metrics: one full HTTPS handshake');
  t.equal(handshakes('dicom', 'true'), 1, 'metrics: one resumed DICOM handshake');
  t.equal(handshakes('dicom', 'false'), 1, 'metrics: one full DICOM handshake');
  // node's TLS 1.3 server issues no new ticket on a resumed handshake (its ticket-key callback never asks
  // OpenSSL to renew), so a client that uses each ticket once makes a full handshake after it (README,
  // "Cheaper handshakes"; docs/benchmarks.md). This keeps that sentence true.
  t.ok(h1.session !== undefined && d1.session !== undefined, 'a full handshake gives tickets');
  t.equal(h2.session, undefined, 'HTTPS: a resumed TLS 1.3 handshake gives no new ticket (node)');
  t.equal(d2.session, undefined, 'DICOM: a resumed TLS 1.3 handshake gives no new ticket (node)');

  // A resumed HTTPS session carries no login: DICOMweb without a cookie or token is refused.
  const anon = await https(gw, undefined);
  const anonResumed = await https(gw, undefined, '/dicom-web/studies', anon.session);
  t.ok(anonResumed.reused, 'resumed without a client certificate');
  t.match(anonResumed.text, /^HTTP\/1\.1 401 /, 'a resumed session still needs its session cookie or token');

  // The device is removed from the device list after its tickets were issued.
  const devicesFile = join(gw.dir, 'config/devices.yaml');
  const doc = parse(readFileSync(devicesFile, 'utf8')) as { devices: Record<string, unknown> };
  delete doc.devices['ws-tix'];
  writeFileSync(devicesFile, stringify(doc));
  await gw.gateway.reload();
  const h3 = await https(gw, dev, '/', h2.session ?? h1.session);
  t.ok(h3.reused, 'HTTPS: the ticket still resumes the TLS session');
  t.notMatch(h3.text, /Authenticated as device/, `HTTPS: a removed device is refused on resumption: ${h3.text.split('\r\n')[0] ?? ''}`);
  const d3 = await dicom(gw, dev, 'WSTIX', d2.session ?? d1.session);
  t.ok(d3.reused, 'DICOM: the ticket still resumes the TLS session');
  t.equal(pduType(d3.answer), 0x03, 'DICOM: a removed device gets A-ASSOCIATE-RJ on resumption');
  await waitFor(() => gw.auditEvents('dicom.association').some((e) => e.decision === 'deny' && e.certFingerprint !== undefined), 10_000);
});

t.test('memory store: a certificate that expired after its ticket was issued is refused on resumption', async (t) => {
  const gw = await startGateway({ prepare: prepareCa, dicom: true, config: await pacs(t) });
  t.teardown(() => gw.stop());
  // A device certificate that expires a few seconds from now (notBefore a day back, one day long).
  const paths = tlsFilePaths(gw.config);
  const lifetimeLeftMs = 6000;
  const leaf = issueCertificate(loadCa(paths), { commonName: 'ws-short', usage: 'client', days: 1, now: Date.now() - 86_400_000 + lifetimeLeftMs });
  const registry = new DeviceRegistry(join(gw.dir, 'config/devices.yaml'));
  registry.upsert({ name: 'ws-short', role: 'radiologist', aeTitles: ['WSSHORT'], moveDestinations: [], disabled: false, fingerprint: leaf.fingerprint256, serial: leaf.serial.toUpperCase(), notAfter: leaf.notAfter.toISOString() });
  registry.close();
  await gw.gateway.reload();
  const dev = { cert: leaf.certPem, key: leaf.keyPem };
  const h1 = await https(gw, dev);
  t.match(h1.text, /Authenticated as device ws-short/, 'valid before it expires');
  const d1 = await dicom(gw, dev, 'WSSHORT');
  t.equal(pduType(d1.answer), 0x02, 'DICOM: accepted before it expires');
  // Wait (not a timed assertion) until the certificate is past its notAfter.
  await waitFor(() => Date.now() > leaf.notAfter.getTime() + 1000, lifetimeLeftMs + 10_000);
  const h2 = await https(gw, dev, '/dicom-web/studies', h1.session);
  t.ok(h2.reused, 'HTTPS: resumed');
  t.notMatch(h2.text, /Authenticated as device/, 'HTTPS: expired certificate refused on resumption');
  t.match(h2.text, /CERT_HAS_EXPIRED/, 'the refusal names the reason');
  const d2 = await dicom(gw, dev, 'WSSHORT', d1.session);
  t.ok(d2.reused, 'DICOM: resumed');
  t.equal(pduType(d2.answer), 0x03, 'DICOM: expired certificate gets A-ASSOCIATE-RJ on resumption');
});

t.test('DICOM: a device revoked in the CRL only, after its ticket was issued, gets A-ASSOCIATE-RJ on resumption', async (t) => {
  const gw = await startGateway({ prepare: prepareCa, dicom: true, config: await pacs(t) });
  t.teardown(() => gw.stop());
  const dev = clientOf((await issueClient(gw.dir, 'ws-crl', 'radiologist', ['WSCRL'])).files);
  await gw.gateway.reload();
  const d1 = await dicom(gw, dev, 'WSCRL');
  t.equal(pduType(d1.answer), 0x02, 'accepted before the revocation');
  // Revoked in the CRL only (as another CA's CRL would be): the device entry does not know.
  const before = gw.auditEvents('config.reload').length;
  await certsOk(gw.dir, ['revoke', 'ws-crl']);
  const devicesFile = join(gw.dir, 'config/devices.yaml');
  const doc = parse(readFileSync(devicesFile, 'utf8')) as { devices: Record<string, Record<string, unknown>> };
  const entry = doc.devices['ws-crl'] as Record<string, unknown>;
  delete entry['revokedAt'];
  delete entry['disabled'];
  writeFileSync(devicesFile, stringify(doc));
  await gw.gateway.reload();
  await waitFor(() => gw.auditEvents('config.reload').slice(before).some((e) => e.reason === 'tls-material-replaced'), 10_000);
  const fresh = await dicom(gw, dev, 'WSCRL');
  t.equal(pduType(fresh.answer), 0x03, 'a full handshake is refused');
  const d2 = await dicom(gw, dev, 'WSCRL', d1.session);
  t.ok(d2.reused, 'the old ticket still resumes the TLS session (the ticket keys outlive the CRL change)');
  t.equal(pduType(d2.answer), 0x03, 'and the association is refused');
  await waitFor(() => gw.auditEvents('dicom.association').some((e) => e.decision === 'deny' && e.detail === 'CERT_REVOKED'), 10_000);
});

t.test('a ticket from another deployment (another store) does not resume', async (t) => {
  const a = await startGateway({ prepare: prepareCa, dicom: true, config: await pacs(t) });
  t.teardown(() => a.stop());
  const dev = clientOf((await issueClient(a.dir, 'ws-other', 'radiologist', ['WSOTHER'])).files);
  await a.gateway.reload();
  const b = await startGateway({ prepare: sameFiles(a), dicom: true, config: await pacs(t) });
  t.teardown(() => b.stop());
  const h1 = await https(a, dev);
  const hb = await https(b, dev, '/', h1.session);
  t.notOk(hb.reused, 'HTTPS: no resumption across deployments');
  t.match(hb.text, /Authenticated as device ws-other/, 'a full handshake instead');
  const d1 = await dicom(a, dev, 'WSOTHER');
  const db = await dicom(b, dev, 'WSOTHER', d1.session);
  t.notOk(db.reused, 'DICOM: no resumption across deployments');
});

t.test('redis store: two replicas resume each other\'s tickets, identity checks included; keys never logged', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.destroy());
  const keyPrefix = `pgw-tix-${process.pid}:`;
  const shared = redisStateConfig(redis, keyPrefix);
  const state = (): Record<string, unknown> => shared;
  const a = await startGateway({ prepare: prepareCa, dicom: true, config: { ...(await pacs(t)), ...state() } });
  t.teardown(() => a.stop());
  const dev = clientOf((await issueClient(a.dir, 'ws-rep', 'radiologist', ['WSREP'])).files);
  await a.gateway.reload();
  const b = await startGateway({ prepare: sameFiles(a), dicom: true, config: { ...(await pacs(t)), ...state() } });
  t.teardown(() => b.stop());

  const h1 = await https(a, dev);
  const hb = await https(b, dev, '/', h1.session);
  t.ok(hb.reused, 'HTTPS: a ticket from replica A resumes on replica B');
  t.match(hb.text, /Authenticated as device ws-rep/);
  const d1 = await dicom(b, dev, 'WSREP');
  const da = await dicom(a, dev, 'WSREP', d1.session);
  t.ok(da.reused, 'DICOM: a ticket from replica B resumes on replica A');
  t.equal(pduType(da.answer), 0x02);

  // The device is removed on replica B's list only: B refuses the resumed session A's ticket opens.
  const devicesFile = join(b.dir, 'config/devices.yaml');
  const doc = parse(readFileSync(devicesFile, 'utf8')) as { devices: Record<string, unknown> };
  delete doc.devices['ws-rep'];
  writeFileSync(devicesFile, stringify(doc));
  await b.gateway.reload();
  const hb2 = await https(b, dev, '/', h1.session);
  t.ok(hb2.reused);
  t.notMatch(hb2.text, /Authenticated as device/, 'replica B refuses the removed device on resumption');

  // The keys are in Redis (secrets with a TTL), never in either gateway's log.
  const client = redis.client();
  t.teardown(() => client.quit());
  const keys = (await client.keys(`${keyPrefix}*ticket-key*`)).filter((k) => !k.endsWith(':claim'));
  t.ok(keys.length >= 1, 'the ticket keys are shared through Redis');
  const signingKey = ((shared['session'] as { signingKey: string }).signingKey);
  for (const k of keys) {
    const raw = await client.hget(k, 'j');
    t.ok((await client.pttl(k)) > 0, `${k} has a TTL`);
    const stored = (JSON.parse(raw ?? '{}') as { k?: string }).k ?? '';
    t.equal(Buffer.from(stored, 'base64').length, 12 + 48 + 16, 'a 48-byte ticket key, wrapped (AES-256-GCM) under session.signingKey');
    const period = Number(k.split(':').pop());
    const key = await periodKey(new ReadOnlyRedisRecord(client, keyPrefix) as unknown as StateStore, period, 3_600_000, ticketWrapKey(new TextEncoder().encode(signingKey)));
    t.equal(key.length, 48, 'the replicas\' secret unwraps it');
    t.notOk([...a.rawLogs, ...b.rawLogs].some((l) => l.includes(stored) || l.includes(key.toString('base64')) || l.includes(key.toString('hex'))), 'the key is not in the logs');
  }
});

t.test('HTTP/2: a resumed session of a device is the device (re-checked), and a removed device is refused on resumption', async (t) => {
  const { connect: h2connect } = await import('node:http2');
  const gw = await startGateway({ prepare: prepareCa, config: noAutoCerts });
  t.teardown(() => gw.stop());
  const dev = clientOf((await issueClient(gw.dir, 'ws-h2', 'radiologist', ['WSH2'])).files);
  await gw.gateway.reload();
  /** One h2 connection, one QIDO-RS request; returns whether the TLS session was resumed, the status, and the ticket. */
  const qido = async (session?: Buffer): Promise<{ reused: boolean; status: number; session: Buffer | undefined }> => {
    let ticket: Buffer | undefined;
    const c = h2connect(`https://localhost:${gw.httpsPort}`, {
      ca: gw.caPem, ...dev, servername: 'localhost', maxVersion: 'TLSv1.3',
      ...(session === undefined ? {} : { session }),
    });
    c.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject); });
    const reused = (c.socket as TLSSocket).isSessionReused();
    (c.socket as TLSSocket).on('session', (s: Buffer) => { ticket = s; });
    const req = c.request({ ':path': '/dicom-web/studies?PatientID=NONE', ':method': 'GET' });
    req.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => { req.once('response', (h) => resolve(Number(h[':status']))); req.once('close', () => resolve(0)); });
    req.resume();
    await new Promise<void>((r) => req.once('close', () => r()));
    // Let the server's post-handshake ticket arrive before closing.
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    return { reused, status, session: ticket };
  };
  const lastAuthz = (): Record<string, unknown> | undefined => gw.auditEvents('authz.http').at(-1);
  const first = await qido();
  t.match(lastAuthz(), { decision: 'allow', method: 'mtls', principal: 'ws-h2' }, 'full handshake: the device');
  t.ok(first.session, 'the client got a ticket');
  const second = await qido(first.session);
  t.ok(second.reused, 'the h2 connection resumed the TLS session');
  t.match(lastAuthz(), { decision: 'allow', method: 'mtls', principal: 'ws-h2' }, 'resumed: still the device (its certificate re-checked, not refused as unchecked)');

  const devicesFile = join(gw.dir, 'config/devices.yaml');
  const doc = parse(readFileSync(devicesFile, 'utf8')) as { devices: Record<string, unknown> };
  delete doc.devices['ws-h2'];
  writeFileSync(devicesFile, stringify(doc));
  await gw.gateway.reload();
  const third = await qido(second.session ?? first.session);
  t.ok(third.reused, 'the ticket still resumes the TLS session');
  t.ok(third.status === 401 || third.status === 403, `a removed device is refused over h2 on resumption (${third.status})`);
  t.match(lastAuthz(), { decision: 'deny' });
});
