// Attacks on the lifetime of DIMSE credentials, shared by dimse-credential-lifetime-{memory,redis}.test.ts: a DIMSE
// token, and an association it or a password opened, must not outlive the session, user, password or TOTP secret
// that made them, nor run for ever. On the memory store one gateway; on Redis two replicas (changes on A, associations on B).

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { PduType } from '../../src/dicom/constants.js';
import { MemoryStore } from '../../src/state/memory-store.js';
import { RedisStore } from '../../src/state/redis-store.js';
import type { StateStore } from '../../src/state/store.js';
import { startGateway, testClock, type TestClock, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { makeInstance, writeInstance } from '../helpers/instances.js';
import { findInstanceId, startOrthanc, type OrthancServer } from '../helpers/orthanc.js';
import { RawAssociation } from '../helpers/raw-association.js';
import { startRedis } from '../helpers/redis.js';
import { GATEWAY_BIN } from '../helpers/replica.js';
import { run, waitFor, type RunResult } from '../helpers/tools.js';

const MIN = 60_000;
/** How often open associations re-check here (GatewayOptions.revalidateMs); production: 10 s. */
const RECHECK_MS = 150;
/** How long a test waits for the A-ABORT of an association whose credential is gone. */
const ABORT_WAIT_MS = 5_000;
const IDLE_MINUTES = 30;
const MAX_HOURS = 2;
const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const JWT = 5;
const USERNAME_AND_PASSCODE = 2;

const CONFIG = {
  dicom: { artimSeconds: 5 },
  // One session per user here: "a new login" below ends the one before (session.maxPerUser).
  session: { idleMinutes: IDLE_MINUTES, maxHours: MAX_HOURS, dimseTokenMinutes: 60, maxPerUser: 1 },
};

interface Deployment {
  readonly name: 'memory' | 'redis';
  readonly orthanc: OrthancServer;
  /** Where users log in, manage tokens and log out. */
  readonly a: TestGateway;
  /** Where associations are opened: the same gateway on memory, another replica on Redis. */
  readonly b: TestGateway;
  readonly clock: TestClock;
  /** The state store both replicas use, to watch a session's lastSeen. */
  readonly store: StateStore;
  /** `pacs-gateway users …` with the deployment's config file, as an admin runs it. */
  users(args: string[], input?: string): Promise<RunResult>;
  /** After a CLI change: the file backend is re-read (what SIGHUP does); Redis needs nothing. */
  settle(): Promise<void>;
}

async function deployMemory(orthanc: OrthancServer): Promise<Deployment> {
  const clock = testClock();
  const store = new MemoryStore({ clock });
  const gw = await startGateway({ orthanc, dicom: true, clock, config: CONFIG, gatewayOptions: { store, revalidateMs: RECHECK_MS } });
  t.teardown(async () => { await gw.stop(); await store.close(); });
  return {
    name: 'memory', orthanc, a: gw, b: gw, clock, store,
    users: (args, input) => cli(gw, args, input),
    settle: () => gw.gateway.reload(),
  };
}

async function deployRedis(orthanc: OrthancServer): Promise<Deployment> {
  const redis = await startRedis();
  t.teardown(() => redis.destroy());
  const clock = testClock();
  const keyPrefix = `pgw-lifetime-${randomBytes(4).toString('hex')}:`;
  const config = { ...CONFIG, state: { keyPrefix }, session: { ...CONFIG.session, signingKey: randomBytes(32).toString('base64url') } };
  const start = (): Promise<TestGateway> => startGateway({ orthanc, dicom: true, clock, redis, config, gatewayOptions: { revalidateMs: RECHECK_MS } });
  const a = await start();
  t.teardown(() => a.stop());
  const b = await start();
  t.teardown(() => b.stop());
  const store = new RedisStore({ redis: redis.options({ commandTimeoutMs: 2000, connectTimeoutMs: 2000 }), keyPrefix });
  t.teardown(() => store.close());
  return {
    name: 'redis', orthanc, a, b, clock, store,
    users: (args, input) => cli(a, args, input),
    settle: async () => undefined,
  };
}

function cli(gw: TestGateway, args: string[], input?: string): Promise<RunResult> {
  return run(process.execPath, [GATEWAY_BIN, 'users', ...args, '--config', gw.configFile], { cwd: gw.dir, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
}

async function addUser(d: Deployment, username: string, role = 'technologist'): Promise<TestUser> {
  const u = await d.a.addUser(username, role);
  await d.b.gateway.reload();
  return u;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function dimseToken(gw: TestGateway, session: string): Promise<{ token: string; tokenId: string }> {
  const r = await gw.request('POST', '/auth/dimse-token', { headers: bearer(session) });
  if (r.status !== 200) throw new Error(`POST /auth/dimse-token: ${r.status} ${r.text}`);
  return r.json() as { token: string; tokenId: string };
}

/** The session id inside a session JWT (its `sid` claim), to look at the session record. */
function sidOf(session: string): string {
  const payload = JSON.parse(Buffer.from(session.split('.')[1] as string, 'base64url').toString('utf8')) as { sid: string };
  return payload.sid;
}

/** dcmtk storescu over TLS without a client certificate, with a DIMSE token (user identity type 5), to replica B. */
async function storeWithJwt(d: Deployment, token: string): Promise<{ result: RunResult; stored: boolean }> {
  const jwtFile = join(d.b.dir, `${randomBytes(6).toString('hex')}.jwt`);
  writeFileSync(jwtFile, token, { mode: 0o600 });
  const instance = makeInstance();
  const file = await writeInstance(d.b.dir, instance);
  const result = await run('storescu', ['+tla', '+cf', join(d.b.dir, 'certs/ca.crt'), '--jwt', jwtFile, '-aet', 'WS1', '-aec', 'GATEWAY', '127.0.0.1', String(d.b.dicomPort), file], { timeoutMs: 30_000 });
  return { result, stored: (await findInstanceId(d.orthanc, instance.sopInstanceUid)) !== undefined };
}

const rejected = (r: RunResult): boolean => r.code !== 0 && /Association Rejected/i.test(r.stdout + r.stderr);

/** An association held open on replica B (C-ECHO works), admitted by a DIMSE token. */
function openWithToken(d: Deployment, token: string): Promise<RawAssociation> {
  return RawAssociation.open({
    port: d.b.dicomPort, ca: d.b.caPem, callingAe: 'WS1',
    contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    userIdentity: { type: JWT, positiveResponseRequested: false, primary: Buffer.from(token), secondary: Buffer.alloc(0) },
  });
}

/** The same, admitted by username + password + TOTP code (user identity type 2; no session). */
async function openWithPasscode(d: Deployment, user: TestUser): Promise<RawAssociation> {
  d.clock.advance(30_000); // a code is accepted once: a fresh step
  const code = await d.b.code(user);
  return RawAssociation.open({
    port: d.b.dicomPort, ca: d.b.caPem, callingAe: 'WS2',
    contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    userIdentity: { type: USERNAME_AND_PASSCODE, positiveResponseRequested: false, primary: Buffer.from(user.username), secondary: Buffer.from(`${user.password}${code}`) },
  });
}

/** Resolves with the next PDU's type, or 'none' when the gateway sends nothing in ABORT_WAIT_MS (the association lives on). */
async function nextPdu(a: RawAssociation): Promise<number | 'none' | 'closed'> {
  try {
    return (await a.next(ABORT_WAIT_MS)).type;
  } catch (err) {
    return (err as Error).message === 'connection closed' ? 'closed' : 'none';
  }
}

/** Asserts that an open association is aborted by the gateway (A-ABORT) and audited with the reason. */
async function expectAborted(t: Test, d: Deployment, a: RawAssociation, principal: string, detail: RegExp, reason = 'principal-no-longer-valid', method?: string): Promise<void> {
  t.equal(await nextPdu(a), PduType.Abort, 'the gateway sends A-ABORT');
  const seen = await waitFor(() => d.b.auditEvents('dicom.association').find((e) =>
    e.principal === principal && e.decision === 'deny' && e.reason === reason && (method === undefined || e.method === method)), 2000).catch(() => undefined);
  t.ok(seen, `audited on B as ${reason}`);
  t.match(seen?.detail, detail, `with the reason: ${String(seen?.detail)}`);
  a.destroy();
}

/** Asserts that the association works now. */
async function expectWorking(t: Test, a: RawAssociation, what: string): Promise<void> {
  t.equal(await a.echo(1, 1), 0, `C-ECHO on the open association ${what}`);
}

/** Runs every attack against a fresh deployment on `store`. */
export async function attackCredentialLifetime(store: 'memory' | 'redis'): Promise<void> {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const d = await (store === 'memory' ? deployMemory(orthanc) : deployRedis(orthanc));
  const n = d.name[0] as string; // usernames per deployment: m-… / r-…

  t.test(`${d.name}: a DIMSE token no longer opens an association once its session ended`, async (t) => {
    await t.test('logout', async (t) => {
      const u = await addUser(d, `${n}-logout`);
      const session = await d.a.login(u);
      const { token } = await dimseToken(d.a, session);
      t.ok((await storeWithJwt(d, token)).stored, 'the token works before');
      t.equal((await d.a.request('POST', '/auth/logout', { headers: bearer(session) })).status, 200);
      const after = await storeWithJwt(d, token);
      t.ok(rejected(after.result), `refused after logout: ${after.result.stdout}${after.result.stderr}`);
      t.notOk(after.stored, 'nothing stored');
    });

    await t.test('the session idled out (injected clock)', async (t) => {
      const u = await addUser(d, `${n}-idle`);
      const session = await d.a.login(u);
      const { token } = await dimseToken(d.a, session);
      t.ok((await storeWithJwt(d, token)).stored, 'the token works before');
      // Past the session's idle timeout, well within the token's own 60 minutes.
      d.clock.advance((IDLE_MINUTES + 1) * MIN);
      const after = await storeWithJwt(d, token);
      t.ok(rejected(after.result), `refused once the session idled out: ${after.result.stdout}${after.result.stderr}`);
      t.notOk(after.stored);
      t.equal((await d.a.request('GET', '/auth/session', { headers: bearer(session) })).status, 401, 'the session is gone too');
    });

    await t.test('a new login replaces the session', async (t) => {
      const u = await addUser(d, `${n}-relogin`);
      const first = await d.a.login(u);
      const { token } = await dimseToken(d.a, first);
      t.ok((await storeWithJwt(d, token)).stored, 'the token works before');
      await d.a.login(u);
      const after = await storeWithJwt(d, token);
      t.ok(rejected(after.result), `the old session's token is refused after a new login: ${after.result.stdout}${after.result.stderr}`);
      t.notOk(after.stored);
    });
  });

  t.test(`${d.name}: an open association ends when its token or session does`, async (t) => {
    await t.test('DELETE /auth/dimse-token/{id}', async (t) => {
      const u = await addUser(d, `${n}-deltok`);
      const session = await d.a.login(u);
      const { token, tokenId } = await dimseToken(d.a, session);
      const assoc = await openWithToken(d, token);
      await expectWorking(t, assoc, 'before');
      const del = await d.a.request('DELETE', `/auth/dimse-token/${tokenId}`, { headers: bearer(session) });
      t.same(del.json(), { revoked: true });
      await expectAborted(t, d, assoc, u.username, /^token-revoked$/);
      t.equal((await d.a.request('GET', '/auth/session', { headers: bearer(session) })).status, 200, 'the session itself lives on');
    });

    await t.test('logout', async (t) => {
      const u = await addUser(d, `${n}-outopen`);
      const session = await d.a.login(u);
      const assoc = await openWithToken(d, (await dimseToken(d.a, session)).token);
      await expectWorking(t, assoc, 'before');
      await d.a.request('POST', '/auth/logout', { headers: bearer(session) });
      await expectAborted(t, d, assoc, u.username, /^session-ended$/);
    });

    await t.test('a new login', async (t) => {
      const u = await addUser(d, `${n}-reopen`);
      const session = await d.a.login(u);
      const assoc = await openWithToken(d, (await dimseToken(d.a, session)).token);
      await expectWorking(t, assoc, 'before');
      await d.a.login(u);
      await expectAborted(t, d, assoc, u.username, /^session-ended$/);
    });

    await t.test('the session idles out (the clock jumps past the idle timeout between two re-checks)', async (t) => {
      const u = await addUser(d, `${n}-idleopen`);
      const session = await d.a.login(u);
      const assoc = await openWithToken(d, (await dimseToken(d.a, session)).token);
      await expectWorking(t, assoc, 'before');
      d.clock.advance((IDLE_MINUTES + 1) * MIN);
      await expectAborted(t, d, assoc, u.username, /^session-(idle|ended)$/);
    });

    await t.test('an association in use keeps its session from idling out, but not past session.maxHours', async (t) => {
      const u = await addUser(d, `${n}-busy`);
      const session = await d.a.login(u);
      const sid = sidOf(session);
      const assoc = await openWithToken(d, (await dimseToken(d.a, session)).token);
      const step = (IDLE_MINUTES - 5) * MIN;
      const touched = async (): Promise<boolean> => {
        const at = d.clock();
        return waitFor(async () => (await d.store.getRecord<{ lastSeen: number }>(`session:${sid}`))?.lastSeen === at, 3000, 20).then(() => true, () => false);
      };
      let elapsed = 0;
      for (let i = 0; i < 2; i++) {
        d.clock.advance(step);
        elapsed += step;
        t.ok(await touched(), `the open association's re-check touched the session (${elapsed / MIN} min)`);
      }
      await expectWorking(t, assoc, `${elapsed / MIN} min after the last HTTP request`);
      t.equal((await d.a.request('GET', '/auth/session', { headers: bearer(session) })).status, 200, `the HTTP session is alive after ${elapsed / MIN} min without HTTP requests (idle timeout ${IDLE_MINUTES})`);
      while (elapsed + step < MAX_HOURS * 60 * MIN) {
        d.clock.advance(step);
        elapsed += step;
        t.ok(await touched(), `touched (${elapsed / MIN} min)`);
      }
      d.clock.advance(step);
      await expectAborted(t, d, assoc, u.username, /^session-expired$/);
    });
  });

  t.test(`${d.name}: an account change with the CLI ends the sessions, tokens and associations the account had`, async (t) => {
    for (const [what, args, input] of [
      ['users disable', ['disable'], undefined],
      ['users reset-totp', ['reset-totp', '--json'], undefined],
      ['users set-password', ['set-password', '--password-stdin'], 'A-new-Passw0rd-for-set\n'],
    ] as const) {
      await t.test(what, async (t) => {
        const u = await addUser(d, `${n}-${args[0]}`);
        const session = await d.a.login(u);
        const { token } = await dimseToken(d.a, session);
        const viaToken = await openWithToken(d, token);
        await expectWorking(t, viaToken, 'opened with a DIMSE token');
        // User identity type 2 has no session: only the user record tells that it is over.
        const viaPasscode = await openWithPasscode(d, u);
        await expectWorking(t, viaPasscode, 'opened with password + TOTP');
        const r = await d.users([args[0], u.username, ...args.slice(1)], input);
        t.equal(r.code, 0, `${what}: ${r.stderr}`);
        await d.settle();
        await expectAborted(t, d, viaToken, u.username, /^(session-ended|user-disabled|credentials-changed)$/, 'principal-no-longer-valid', 'dicom-user-jwt');
        await expectAborted(t, d, viaPasscode, u.username, args[0] === 'disable' ? /^user-disabled$/ : /^credentials-changed$/, 'principal-no-longer-valid', 'dicom-user-password-totp');
        const after = await storeWithJwt(d, token);
        t.ok(rejected(after.result), `the token opens no new association: ${after.result.stdout}${after.result.stderr}`);
        t.notOk(after.stored, 'nothing stored');
        t.equal((await d.a.request('GET', '/auth/session', { headers: bearer(session) })).status, 401, 'and the HTTP session is over');
      });
    }
  });

  t.test(`${d.name}: an association does not outlive dicom.maxAssociationHours (default 12)`, async (t) => {
    const u = await addUser(d, `${n}-lifetime`);
    const assoc = await openWithPasscode(d, u);
    await expectWorking(t, assoc, 'before');
    d.clock.advance(11 * 60 * MIN);
    await expectWorking(t, assoc, 'after 11 h');
    d.clock.advance(60 * MIN);
    await expectAborted(t, d, assoc, u.username, /12 h/, 'association-lifetime-exceeded');
  });
}
