// Two gateway processes sharing one Redis in front of one Orthanc act as one gateway, and both fail closed without it.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import { issueCertificate } from '../../src/tls/issue.js';
import type { HttpAnswer } from '../helpers/gateway.js';
import { makeInstance, writeInstance } from '../helpers/instances.js';
import { findInstanceId, startOrthanc, type OrthancActivity } from '../helpers/orthanc.js';
import { startRedis } from '../helpers/redis.js';
import { GATEWAY_BIN, startReplica, type Replica } from '../helpers/replica.js';
import { RawAssociation } from '../helpers/raw-association.js';
import { oathtool, run, waitFor, type RunResult } from '../helpers/tools.js';
import { PduType } from '../../src/dicom/constants.js';

const json = { 'content-type': 'application/json' };

// ---- one Orthanc, one redis-server (ACL user with a password, TLS), one config file for both replicas ----

const orthanc = await startOrthanc();
t.teardown(() => orthanc.stop());
const redisPassword = `redis-${randomBytes(12).toString('hex')}`;
const redis = await startRedis({ password: redisPassword, tls: true });
t.teardown(() => redis.destroy());
const redisTls = redis.tls;
if (redisTls === undefined) throw new Error('redis helper started without TLS');

const dir = mkdtempSync(join(tmpdir(), 'pgw-replicas-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'certs'));
mkdirSync(join(dir, 'config'));
// Both replicas present the same server certificate (as behind one load balancer name).
ensureDevCertificates({ cert: join(dir, 'certs/server.crt'), key: join(dir, 'certs/server.key'), clientCa: join(dir, 'certs/ca.crt'), caKey: join(dir, 'certs/ca.key') });
const caFile = join(dir, 'certs/ca.crt');
const caPem = readFileSync(caFile, 'utf8');
const work = join(dir, 'work');
mkdirSync(work);
// A modality with a device certificate (mTLS): the devices file, not Redis, says who it is.
const device = issueCertificate({ certPem: caPem, keyPem: readFileSync(join(dir, 'certs/ca.key'), 'utf8') }, { commonName: 'ct-scanner-1', usage: 'client' });
const deviceCert = join(work, 'device.crt');
const deviceKey = join(work, 'device.key');
writeFileSync(deviceCert, device.certPem);
writeFileSync(deviceKey, device.keyPem, { mode: 0o600 });
writeFileSync(join(dir, 'config/devices.yaml'), stringify({ devices: { 'ct-scanner-1': { role: 'technologist', aeTitles: ['CT1'], fingerprint: device.fingerprint256 } } }));

const keyPrefix = `pgw-replicas-${randomBytes(4).toString('hex')}:`;
const env = {
  PACS_GATEWAY_SESSION_KEY: randomBytes(32).toString('base64url'),
  REDIS_PASSWORD: redisPassword,
};
const USER_MAX_FAILURES = 4;
const configFile = join(dir, 'gateway.yaml');
writeFileSync(configFile, stringify({
  listen: { https: { host: '127.0.0.1', port: 0 }, dicom: { host: '127.0.0.1', port: 0 }, metrics: { host: '127.0.0.1', port: 0 } },
  tls: { cert: 'certs/server.crt', key: 'certs/server.key', clientCa: 'certs/ca.crt', autoGenerate: false },
  upstream: {
    dicomweb: orthanc.dicomwebUrl, wadoUri: orthanc.wadoUrl,
    dicom: { host: '127.0.0.1', port: orthanc.dicomPort, aeTitle: orthanc.aeTitle },
    timeoutMs: 10_000,
  },
  users: { backend: 'redis' },
  devices: { file: 'config/devices.yaml' },
  roles: { radiologist: ['echo', 'search', 'retrieve', 'move'], technologist: ['echo', 'store'], viewer: ['search', 'retrieve'] },
  session: { signingKey: '${PACS_GATEWAY_SESSION_KEY}', idleMinutes: 30, maxHours: 12, dimseTokenMinutes: 60 },
  // A long window: failures are counted per fixed window, so A's and B's must fall in the same one.
  lockout: { userMaxFailures: USER_MAX_FAILURES, addressMaxFailures: 10_000, windowMinutes: 1440, lockMinutes: 15 },
  // Every client here is 127.0.0.1: only the lockout bounds the concurrent logins below.
  login: { maxQueuedChecks: 1000, maxChecksPerAddress: 1000 },
  state: {
    store: 'redis', keyPrefix,
    redis: {
      host: redis.host, port: redis.port, username: redis.username, password: '${REDIS_PASSWORD}',
      tls: { ca: join(redisTls.dir, redisTls.ca), cert: join(redisTls.dir, redisTls.cert), key: join(redisTls.dir, redisTls.key) },
      connectTimeoutMs: 1000, commandTimeoutMs: 2000,
    },
  },
  log: { level: 'info' },
}));

const cli = (args: string[], input?: string): Promise<RunResult> =>
  run(process.execPath, [GATEWAY_BIN, ...args, '--config', configFile], { cwd: dir, env, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });

interface User { readonly username: string; readonly password: string; readonly totpSecret: string }

/** `pacs-gateway users add NAME --role ROLE --password-stdin --json` against the Redis-backed config. */
async function addUser(username: string, role: string): Promise<User> {
  const password = `Pw-${randomBytes(8).toString('hex')}-Xq7!`;
  const r = await cli(['users', 'add', username, '--role', role, '--password-stdin', '--json'], `${password}\n`);
  if (r.code !== 0) throw new Error(`users add ${username}: ${r.stderr}`);
  return { username, password, totpSecret: (JSON.parse(r.stdout) as { totpSecret: string }).totpSecret };
}

const [a, b] = await Promise.all([
  startReplica({ name: 'A', configFile, cwd: dir, env, caPem }),
  startReplica({ name: 'B', configFile, cwd: dir, env, caPem }),
]);
const replicas: readonly Replica[] = [a, b];
t.teardown(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
});

const loginWith = (r: Replica, username: string, password: string, totp: string): Promise<HttpAnswer> =>
  r.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username, password, totp }) });
/** Logs in on `r` with the current code (real time: every replica runs on the system clock). */
const login = async (r: Replica, u: User): Promise<HttpAnswer> => loginWith(r, u.username, u.password, await oathtool(u.totpSecret));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sessionOn = (r: Replica, headers: Record<string, string>): Promise<HttpAnswer> => r.request('GET', '/auth/session', { headers });

/** Sends one generated instance with dcmtk storescu over TLS without a client certificate (`+tla`), with these user identity options. */
async function storeWithIdentity(r: Replica, identity: readonly string[]): Promise<{ result: RunResult; sopInstanceUid: string }> {
  const instance = makeInstance();
  const file = await writeInstance(work, instance);
  const result = await run('storescu', ['+tla', '+cf', caFile, ...identity, '-aet', 'MODALITY', '-aec', orthanc.aeTitle, '127.0.0.1', String(r.dicomPort), file], { timeoutMs: 30_000 });
  return { result, sopInstanceUid: instance.sopInstanceUid };
}

/** The same with a gateway-issued JWT (user identity type 5; dcmtk reads it from a file). */
async function storeWithJwt(r: Replica, token: string): Promise<{ result: RunResult; sopInstanceUid: string }> {
  const jwtFile = join(work, `${randomBytes(6).toString('hex')}.jwt`);
  writeFileSync(jwtFile, token, { mode: 0o600 });
  return storeWithIdentity(r, ['--jwt', jwtFile]);
}

/** Waits (with a deadline) for a replica's log line: its stdout reaches us asynchronously. */
const logged = async (seen: () => boolean): Promise<boolean> => waitFor(seen, 5000, 20).catch(() => false);

/** An association held open on replica `r` (C-ECHO works), admitted by a DIMSE token (user identity type 5). */
const holdWithJwt = (r: Replica, token: string, callingAe: string): Promise<RawAssociation> => RawAssociation.open({
  port: r.dicomPort, ca: caPem, callingAe,
  contexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }],
  userIdentity: { type: 5, positiveResponseRequested: false, primary: Buffer.from(token), secondary: Buffer.alloc(0) },
});
/** The replica re-checks open associations every 10 s (the default): wait past that for the A-ABORT. */
const RECHECK_WAIT_MS = 25_000;

const rejected = (r: RunResult): boolean => r.code !== 0 && /Association Rejected/i.test(r.stdout + r.stderr);

/** What reached Orthanc that matters: HTTP requests, associations, DIMSE commands (not bare TCP probes from /readyz). */
const reached = (x: OrthancActivity) => ({ httpRequests: x.httpRequests, dicomAssociations: x.dicomAssociations, dicomCommands: x.dicomCommands });

// ---- the replicas act as one ----

t.test('users added with the CLI log in on both replicas at once', async (t) => {
  const [u1, u2] = await Promise.all([addUser('una', 'viewer'), addUser('uwe', 'viewer')]);
  const onA = await login(a, u1);
  const onB = await login(b, u2);
  t.equal(onA.status, 200, onA.text);
  t.equal(onB.status, 200, onB.text);
  const list = await cli(['users', 'list', '--json']);
  t.equal(list.code, 0, list.stderr);
  t.match(JSON.parse(list.stdout), [{ username: 'una' }, { username: 'uwe' }]);
});

t.test('a session made on A works on B (bearer and cookie); logout on B ends it on A', async (t) => {
  const alice = await addUser('alice', 'radiologist');
  const r = await login(a, alice);
  t.equal(r.status, 200, r.text);
  const token = r.json().token as string;
  const cookie = String(r.headers['set-cookie']).split(';')[0] as string;

  const viaBearer = await sessionOn(b, bearer(token));
  t.equal(viaBearer.status, 200, viaBearer.text);
  t.match(viaBearer.json(), { principal: 'alice', role: 'radiologist', method: 'bearer-token' });
  const viaCookie = await sessionOn(b, { cookie });
  t.equal(viaCookie.status, 200, viaCookie.text);
  t.match(viaCookie.json(), { principal: 'alice', method: 'session-cookie' });
  const qido = await b.request('GET', '/dicom-web/studies', { headers: { cookie, accept: 'application/dicom+json' } });
  t.equal(qido.status, 200, 'DICOMweb through B with the session made on A');

  const out = await b.request('POST', '/auth/logout', { headers: bearer(token) });
  t.equal(out.status, 200, out.text);
  t.ok(await logged(() => b.auditEvents('auth.logout').some((e) => e.principal === 'alice')), 'B audits the logout');
  for (const [name, headers] of [['bearer', bearer(token)], ['cookie', { cookie }]] as const) {
    const after = await sessionOn(a, headers);
    t.equal(after.status, 401, `A refuses the ${name} after logout on B`);
    t.equal(after.json().error, 'ERR_SESSION_EXPIRED');
  }
});

t.test('a TOTP code used on A is refused on B', async (t) => {
  const bob = await addUser('bob', 'viewer');
  const code = await oathtool(bob.totpSecret);
  t.equal((await loginWith(a, 'bob', bob.password, code)).status, 200);
  const replay = await loginWith(b, 'bob', bob.password, code);
  t.equal(replay.status, 401);
  t.equal(replay.json().error, 'ERR_LOGIN_FAILED', 'the same answer as any failed login');
  t.ok(await logged(() => b.auditEvents('auth.login').some((e) => e.principal === 'bob' && e.reason === 'totp-replayed')), 'B knows it was a replay');
});

t.test('failures on A and on B add up to one lockout', async (t) => {
  const carol = await addUser('carol', 'viewer');
  const wrong = async (r: Replica) => (await loginWith(r, 'carol', 'not-her-password-1', '123456')).status;
  for (let i = 0; i < USER_MAX_FAILURES / 2; i++) t.equal(await wrong(a), 401, `failure ${i + 1} on A`);
  for (let i = 0; i < USER_MAX_FAILURES / 2; i++) t.equal(await wrong(b), 401, `failure ${i + 1} on B`);
  t.ok(await logged(() => b.alerts('lockout.user').some((x) => x['username'] === 'carol')), 'B raised the lockout alert');
  t.equal(a.alerts('lockout.user').length, 0, 'A did not (it counted only half)');
  for (const r of replicas) {
    const locked = await login(r, carol);
    t.equal(locked.status, 429, `${r.name}: even the right password and code are refused while locked`);
    t.equal(locked.json().error, 'ERR_LOCKED_OUT');
    t.ok(Number(locked.headers['retry-after']) > 0, 'Retry-After says how long');
  }
});

t.test('concurrent wrong logins split over A and B: at most userMaxFailures passwords are checked in all', async (t) => {
  // Each attempt is counted in Redis before its password is checked, atomically (one Lua script),
  // so two processes together cannot outrun the count either.
  await addUser('flood-victim', 'viewer');
  const n = 100;
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => loginWith(i % 2 === 0 ? a : b, 'flood-victim', `guess-${i}-wrong`, '123456')));
  const statuses = answers.map((r) => r.status);
  t.same([...new Set(statuses)].filter((s) => s !== 401 && s !== 429), [], 'every answer is 401 (checked) or 429 (locked out)');
  const events = (): Record<string, any>[] => replicas.flatMap((r) => r.auditEvents('auth.login')).filter((e) => e.principal === 'flood-victim');
  t.ok(await logged(() => events().length === n), 'one auth.login event per attempt, on one replica or the other');
  const checked = events().filter((e) => e.reason !== 'locked-out:user');
  t.ok(checked.length <= USER_MAX_FAILURES, `${checked.length} of ${n} had their password checked (at most ${USER_MAX_FAILURES})`);
  t.equal(statuses.filter((s) => s === 401).length, checked.length, 'each checked attempt answered 401');
  t.ok(checked.every((e) => e.reason === 'wrong-password'));
});

t.test('a user disabled with the CLI loses access on both replicas at once', async (t) => {
  const dave = await addUser('dave', 'technologist');
  const r = await login(a, dave);
  t.equal(r.status, 200, r.text);
  const token = r.json().token as string;
  const dimse = await a.request('POST', '/auth/dimse-token', { headers: bearer(token) });
  t.equal(dimse.status, 200, dimse.text);
  for (const x of replicas) t.equal((await sessionOn(x, bearer(token))).status, 200, `${x.name} accepts the session before`);

  const disable = await cli(['users', 'disable', 'dave']);
  t.equal(disable.code, 0, disable.stderr);
  // The change notice reaches each replica within milliseconds; poll with a deadline, no fixed sleep.
  for (const x of replicas) {
    const status = await waitFor(async () => {
      const s = (await sessionOn(x, bearer(token))).status;
      return s === 200 ? false : s;
    }, 5000, 20);
    t.equal(status, 401, `${x.name} refuses the session`);
  }
  t.equal((await login(b, dave)).status, 401, 'and dave cannot log in again');
  const store = await storeWithJwt(b, dimse.json().token as string);
  t.ok(rejected(store.result), `a DIMSE token of a disabled user is refused (A-ASSOCIATE-RJ): ${store.result.stdout}${store.result.stderr}`);
  t.equal(await findInstanceId(orthanc, store.sopInstanceUid), undefined, 'nothing was stored');
});

let erinToken = '';
let erinDimse = '';

t.test('a DIMSE token issued on A opens an association on B until it is revoked on A', async (t) => {
  const erin = await addUser('erin', 'technologist');
  const r = await login(a, erin);
  t.equal(r.status, 200, r.text);
  erinToken = r.json().token as string;
  const issued = await a.request('POST', '/auth/dimse-token', { headers: bearer(erinToken) });
  t.equal(issued.status, 200, issued.text);
  const { token, tokenId } = issued.json() as { token: string; tokenId: string };

  const ok = await storeWithJwt(b, token);
  t.equal(ok.result.code, 0, `storescu --jwt through B: ${ok.result.stdout}${ok.result.stderr}`);
  t.ok(await findInstanceId(orthanc, ok.sopInstanceUid), 'the instance is in Orthanc');
  t.ok(await logged(() => b.auditEvents('auth.token').some((e) => e.principal === 'erin' && e.reason === 'dimse-token-valid')), 'B audits the token');

  const held = await holdWithJwt(b, token, 'ERIN_WS');
  t.equal(await held.echo(1, 1), 0, 'an association opened on B with the token works');
  t.teardown(() => held.destroy());

  const revoke = await a.request('DELETE', `/auth/dimse-token/${tokenId}`, { headers: bearer(erinToken) });
  t.same(revoke.json(), { revoked: true });
  t.equal((await held.next(RECHECK_WAIT_MS)).type, PduType.Abort, 'the association already open on B is aborted at its next re-check');
  t.ok(await logged(() => b.auditEvents('dicom.association').some((e) => e.principal === 'erin' && e.phase === 'revalidation' && e.detail === 'token-revoked')), 'B audits why');
  const before = reached(await orthanc.activity());
  const refused = await storeWithJwt(b, token);
  t.ok(rejected(refused.result), `B refuses the revoked token with A-ASSOCIATE-RJ: ${refused.result.stdout}${refused.result.stderr}`);
  t.match(refused.result.stdout + refused.result.stderr, /Rejected Permanent/, 'permanent: the token will not become valid again');
  t.same(reached(await orthanc.activity()), before, 'nothing reached Orthanc');

  // A second token, kept for the outage below.
  const second = await a.request('POST', '/auth/dimse-token', { headers: bearer(erinToken) });
  t.equal(second.status, 200);
  erinDimse = second.json().token as string;
});

t.test('a logout on A ends the DIMSE tokens of that session on B, and the associations they opened there', async (t) => {
  const hana = await addUser('hana', 'technologist');
  const r = await login(a, hana);
  t.equal(r.status, 200, r.text);
  const session = r.json().token as string;
  const issued = await a.request('POST', '/auth/dimse-token', { headers: bearer(session) });
  const { token } = issued.json() as { token: string };
  const held = await holdWithJwt(b, token, 'HANA_WS');
  t.teardown(() => held.destroy());
  t.equal(await held.echo(1, 1), 0, 'open on B');

  t.equal((await a.request('POST', '/auth/logout', { headers: bearer(session) })).status, 200);
  const refused = await storeWithJwt(b, token);
  t.ok(rejected(refused.result), `B refuses the token of the ended session: ${refused.result.stdout}${refused.result.stderr}`);
  t.equal(await findInstanceId(orthanc, refused.sopInstanceUid), undefined, 'nothing stored');
  t.equal((await held.next(RECHECK_WAIT_MS)).type, PduType.Abort, 'the open association on B is aborted');
  t.ok(await logged(() => b.auditEvents('dicom.association').some((e) => e.principal === 'hana' && e.phase === 'revalidation' && e.detail === 'session-ended')), 'B audits why');
});

// ---- Redis goes away: both fail closed; Redis returns: both recover by themselves ----

t.test('redis-server stops: both replicas fail closed, say why, alert once, and recover when it returns', async (t) => {
  const gina = await addUser('gina', 'viewer');
  const frank = await addUser('frank', 'viewer');
  for (const x of replicas) t.equal(x.alerts('store.unavailable').length, 0, `${x.name}: no outage so far`);
  // No persistence in the test's redis-server: write a snapshot so that users and sessions survive the restart
  // (production: appendonly yes, see docs/redis.md).
  const admin = redis.client();
  await admin.save();
  admin.disconnect();
  const before = reached(await orthanc.activity());

  await redis.stop();

  for (const x of replicas) {
    const ready = await waitFor(async () => {
      const r = await x.request('GET', '/readyz');
      return r.status === 503 ? r : false;
    }, 10_000);
    const check = ready.json().checks['state-store'];
    t.equal(check.status, 'down', `${x.name}: /readyz says the state store is down`);
    t.match(check.reason, new RegExp(`^Redis rediss://127\\.0\\.0\\.1:${redis.port}/0 is unreachable: (the connection to Redis closed|connect ECONNREFUSED)`), `${x.name}: and why: ${check.reason}`);
    t.equal(ready.json().checks['upstream-dicomweb'].status, 'up', 'the rest is up');
  }

  for (const x of replicas) {
    for (let i = 0; i < 3; i++) {
      const l = await login(x, gina);
      t.equal(l.status, 503, `${x.name}: login answers 503`);
      t.equal(l.json().error, 'ERR_STORE_UNAVAILABLE');
      t.match(l.json().message, /state store is unavailable/);
    }
    const s = await sessionOn(x, bearer(erinToken));
    t.equal(s.status, 503, `${x.name}: a session made before cannot be checked, so it is refused`);
    const web = await x.request('GET', '/dicom-web/studies', { headers: { ...bearer(erinToken), accept: 'application/dicom+json' } });
    t.equal(web.status, 503, `${x.name}: DICOMweb with that session is refused`);
    const assoc = await storeWithJwt(x, erinDimse);
    t.ok(rejected(assoc.result), `${x.name}: an association with a valid DIMSE token is refused: ${assoc.result.stdout}${assoc.result.stderr}`);
    t.match(assoc.result.stdout + assoc.result.stderr, /Transient/i, 'A-ASSOCIATE-RJ transient: try again later');
    const passcode = `${gina.password}${await oathtool(gina.totpSecret)}`;
    const type2 = await storeWithIdentity(x, ['--user', 'gina', '--password', passcode]);
    t.ok(rejected(type2.result), `${x.name}: and so is one with username + passcode (type 2): ${type2.result.stdout}${type2.result.stderr}`);
  }
  t.same(reached(await orthanc.activity()), before, 'nothing reached Orthanc during the outage');
  // Device certificates need no shared state (devices file + CRL): modalities keep working.
  for (const x of replicas) {
    const echo = await run('echoscu', ['+tls', deviceKey, deviceCert, '+cf', caFile, '-aet', 'CT1', '-aec', orthanc.aeTitle, '127.0.0.1', String(x.dicomPort)], { timeoutMs: 30_000 });
    t.equal(echo.code, 0, `${x.name}: an mTLS device still gets through: ${echo.stdout}${echo.stderr}`);
  }
  for (const x of replicas) {
    t.ok(await logged(() => x.alerts('store.unavailable').length > 0), `${x.name}: a store.unavailable alert`);
    t.notMatch(x.rawLogs(), redisPassword, `${x.name}: the Redis password never appears in the logs`);
  }

  await redis.restart();

  for (const x of replicas) {
    const ready = await waitFor(async () => {
      const r = await x.request('GET', '/readyz');
      return r.status === 200 ? r : false;
    }, 15_000, 100);
    t.equal(ready.json().status, 'ready', `${x.name}: ready again without a restart`);
    t.ok(await logged(() => x.alerts('store.recovered').length > 0), `${x.name}: a store.recovered alert`);
    // Lines arrive in order: with the recovery logged, every alert of the outage is in.
    t.equal(x.alerts('store.recovered').length, 1, `${x.name}: one store.recovered alert`);
    t.equal(x.alerts('store.unavailable').length, 1, `${x.name}: exactly one store.unavailable alert for the whole outage (${x.auditEvents('auth.login').length} logins and more were refused)`);
    t.equal(x.process.child.exitCode, null, `${x.name}: the same process`);
  }
  const ginaOnA = await login(a, gina);
  t.equal(ginaOnA.status, 200, `login works again on A: ${ginaOnA.text}`);
  const frankOnB = await login(b, frank);
  t.equal(frankOnB.status, 200, `login works again on B: ${frankOnB.text}`);
  for (const x of replicas) t.equal((await sessionOn(x, bearer(erinToken))).status, 200, `${x.name}: the earlier session is valid again`);
  const after = await storeWithJwt(a, erinDimse);
  t.equal(after.result.code, 0, `associations with user identity work again: ${after.result.stdout}${after.result.stderr}`);
});

t.test('both replicas stop cleanly', async (t) => {
  for (const x of replicas) {
    const end = await x.stop();
    t.equal(end.code, 0, `${x.name} exits 0 on SIGTERM: ${end.stderr}`);
    t.notMatch(end.stdout, redisPassword, 'the Redis password never appears in the logs');
  }
});
