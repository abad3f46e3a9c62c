// SessionService on both state stores: a DIMSE token lives no longer than its session, and revokeUser ends both.

import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { credentialStamp, userProblem } from '../../src/identity/credential-stamp.js';
import { SessionService } from '../../src/identity/sessions.js';
import type { UserRecord } from '../../src/identity/user-record.js';
import { MemoryStore } from '../../src/state/memory-store.js';
import { RedisStore } from '../../src/state/redis-store.js';
import type { StateStore } from '../../src/state/store.js';
import { testClock, type TestClock } from '../helpers/gateway.js';
import { startRedis } from '../helpers/redis.js';

const MIN = 60_000;
const IDLE = 30 * MIN;
const MAX = 120 * MIN;

const redis = await startRedis();
t.teardown(() => redis.destroy());

function user(username: string, over: Partial<UserRecord> = {}): UserRecord {
  return {
    username, role: 'viewer', passwordHash: `scrypt$1$8$1$${randomBytes(8).toString('hex')}$k`, totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
    disabled: false, createdAt: '', updatedAt: '', ...over,
  };
}

t.test('credentialStamp: changes with the password hash or the TOTP secret, and only then', async (t) => {
  const u = user('ann');
  t.equal(credentialStamp(u), credentialStamp({ ...u }), 'the same credentials, the same stamp (another object)');
  t.equal(credentialStamp({ ...u, role: 'admin', updatedAt: 'x' } as UserRecord), credentialStamp(u), 'a role change is not a credential change');
  t.not(credentialStamp({ ...u, passwordHash: `${u.passwordHash}x` }), credentialStamp(u), 'new password');
  t.not(credentialStamp({ ...u, totpSecret: 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU' }), credentialStamp(u), 'new TOTP secret');
  t.notOk(credentialStamp(u).includes(u.passwordHash.slice(-16)), 'no part of the hash in it');
  t.equal(userProblem(u, credentialStamp(u)), undefined);
  t.equal(userProblem(undefined, credentialStamp(u)), 'user-unknown');
  t.equal(userProblem({ ...u, disabled: true }, credentialStamp(u)), 'user-disabled');
  t.equal(userProblem(u, undefined), 'credentials-changed', 'no stamp: fail closed');
});

async function stores(t: Test, clock: TestClock): Promise<Array<[string, StateStore]>> {
  const memory = new MemoryStore({ clock });
  const shared = new RedisStore({ redis: redis.options({ commandTimeoutMs: 2000 }), keyPrefix: `pgw-sessions-${randomBytes(4).toString('hex')}:` });
  t.teardown(async () => { await memory.close(); await shared.close(); });
  return [['memory', memory], ['redis', shared]];
}

/** Replicas share the signing key (session.signingKey). */
const signingKey = randomBytes(32);

function service(store: StateStore, clock: TestClock, audit?: { record(e: unknown): void }, maxPerUser?: number): SessionService {
  return new SessionService({
    store, clock, signingKey, idleMs: IDLE, maxMs: MAX, dimseTokenMs: 60 * MIN,
    ...(maxPerUser === undefined ? {} : { maxPerUser }),
    ...(audit === undefined ? {} : { audit: audit as never }),
  });
}

const refused = async (t: Test, p: Promise<unknown>, message: RegExp, what: string): Promise<void> => {
  await t.rejects(p, { code: 'ERR_SESSION_EXPIRED', message }, what);
};

t.test('a DIMSE token and what it opened live no longer than the session', async (t) => {
  const clock = testClock();
  for (const [name, store] of await stores(t, clock)) {
    await t.test(name, async (t) => {
      // One session per user here (session.maxPerUser: 1): a new login ends the one before.
      const s = service(store, clock, undefined, 1);
      const bea = user('bea');
      const check = async (token: string): Promise<string> => {
        const v = await s.verifyDimseToken(token);
        const r = await s.checkDimseToken(v.token.jti, v.session.sid, 'bea');
        return r.ok ? 'ok' : r.reason;
      };

      // Logout (revoke) ends the token; DELETE of the token alone leaves the session.
      let session = await s.create(bea, '127.0.0.1');
      let record = await s.verify(session.token);
      t.equal(record.cred, credentialStamp(bea), 'the session keeps the stamp of the login');
      const a = await s.issueDimseToken(record);
      const b = await s.issueDimseToken(record);
      const va = await s.verifyDimseToken(a.token);
      t.equal(va.session.sid, session.sid, 'the token names its session');
      t.equal(await check(b.token), 'ok');
      t.ok(await s.revokeDimseTokenOf('bea', a.id));
      t.same(await s.checkDimseToken(a.id, session.sid, 'bea'), { ok: false, reason: 'token-revoked' }, 'a revoked token: an open association ends');
      t.equal(await check(b.token), 'ok', 'the other token and the session live on');
      await s.revoke(session.sid);
      await refused(t, s.verifyDimseToken(b.token), /session that issued this DIMSE token is over \(session-ended\)/, 'logout ends the token');
      t.same(await s.checkDimseToken(b.id, session.sid, 'bea'), { ok: false, reason: 'session-ended' });

      // A new login ends the previous session's tokens.
      session = await s.create(bea, '127.0.0.1');
      const old = await s.issueDimseToken(await s.verify(session.token));
      const next = await s.create(bea, '127.0.0.1');
      await refused(t, s.verifyDimseToken(old.token), /session-ended/, 'a new login ends the old session\'s token');
      await refused(t, s.verify(session.token), /has ended/, 'and the old session');
      record = await s.verify(next.token);

      // Idle: a use of the token is activity of its session; a jump past the idle timeout ends both.
      const busy = await s.issueDimseToken(record);
      const bv = await s.verifyDimseToken(busy.token);
      clock.advance(IDLE - MIN);
      t.equal(await check(busy.token), 'ok', 'used within the idle timeout');
      clock.advance(IDLE - MIN);
      t.equal(await check(busy.token), 'ok', 'the use kept the session from idling out');
      t.ok(await s.verify(next.token), `the HTTP session too, ${2 * (IDLE - MIN) / MIN} min after its last HTTP use`);
      clock.advance(IDLE + 1);
      t.same(await s.checkDimseToken(busy.id, bv.session.sid, 'bea'), { ok: false, reason: 'session-idle' }, 'idle past the timeout: an open association ends');
      await refused(t, s.verify(next.token), /has ended/, 'the HTTP session idled out with it');

      // Maximum lifetime: however busy, the session and its tokens end at maxMs.
      const long = await s.create(bea, '127.0.0.1');
      const lt = await s.issueDimseToken(await s.verify(long.token));
      const lv = await s.verifyDimseToken(lt.token);
      for (let at = 25 * MIN; at < MAX; at += 25 * MIN) {
        clock.advance(25 * MIN);
        t.equal((await s.checkDimseToken(lt.id, lv.session.sid, 'bea')).ok, true, `re-check at ${at / MIN} min`);
      }
      await refused(t, s.verifyDimseToken(lt.token), /expired/, 'the token\'s own hour has passed: it opens nothing new');
      clock.advance(25 * MIN);
      const past = await s.checkDimseToken(lt.id, lv.session.sid, 'bea');
      t.same(past, { ok: false, reason: 'session-expired' }, 'past the maximum an open association ends');
    });
  }
});

t.test('revokeUser ends the session and its tokens, on every replica, and a later login works', async (t) => {
  const clock = testClock();
  for (const [name, store] of await stores(t, clock)) {
    await t.test(name, async (t) => {
      const events: unknown[] = [];
      const a = service(store, clock, { record: (e) => events.push(e) });
      // A second service on the same store: another replica (on Redis the state is shared).
      const b = service(store, clock);
      t.equal(await a.revokeUser('cid', 'password-changed'), false, 'nothing to end');
      const first = await a.create(user('cid'), '10.0.0.1');
      const token = await a.issueDimseToken(await a.verify(first.token));
      const v = await a.verifyDimseToken(token.token);
      t.equal(await a.revokeUser('cid', 'totp-reset'), true);
      await t.rejects(b.verify(first.token), { code: 'ERR_SESSION_EXPIRED' }, 'the session is over for every replica');
      t.same(await b.checkDimseToken(token.id, v.session.sid, 'cid'), { ok: false, reason: 'session-ended' }, 'and its token');
      t.match(events, [
        { event: 'auth.session', decision: 'deny', reason: 'revoked:password-changed', principal: 'cid', sessionEnded: false },
        { event: 'auth.session', decision: 'deny', reason: 'revoked:totp-reset', principal: 'cid', sessionEnded: true },
      ]);
      const again = await b.create(user('cid'), '10.0.0.1');
      t.ok(await a.verify(again.token), 'a new login after the revocation works');
      t.equal(await a.revokeUser('cid', 'user-disabled'), true, 'and is ended by the next revocation');
    });
  }
});

t.test('concurrent logins of one user leave one session', async (t) => {
  const clock = testClock();
  for (const [name, store] of await stores(t, clock)) {
    await t.test(name, async (t) => {
      const s = service(store, clock, undefined, 1);
      const made = await Promise.all(Array.from({ length: 8 }, () => s.create(user('dan'), '10.0.0.2')));
      const alive = (await Promise.all(made.map((m) => s.verify(m.token).then(() => 1, () => 0)))).reduce<number>((x, y) => x + y, 0);
      t.equal(alive, 1, 'exactly one of eight concurrent sessions survives');
    });
  }
});

t.test('several sessions per user: the oldest ends beyond maxPerUser, list, sign out everywhere else, revokeUser ends all', async (t) => {
  const clock = testClock();
  for (const [name, store] of await stores(t, clock)) {
    await t.test(name, async (t) => {
      const s = service(store, clock);
      t.equal(s.maxPerUser, 5, 'the default is five');
      const eve = user('eve');
      const made = [];
      for (let i = 0; i < 5; i++) { made.push(await s.create(eve, `10.0.1.${i}`)); clock.advance(1000); }
      for (const m of made) t.ok(await s.verify(m.token), 'five sessions live side by side');
      t.same((await s.listSessions('eve')).map((r) => r.sid), made.map((m) => m.sid), 'listed oldest first');
      const oldToken = await s.issueDimseToken(await s.verify(made[0]!.token));
      t.same((await s.listDimseTokens('eve')).map((x) => x.id), [oldToken.id], 'the token is listed');

      const sixth = await s.create(eve, '10.0.1.9');
      await refused(t, s.verify(made[0]!.token), /has ended/, 'the sixth login ends the oldest session');
      await refused(t, s.verifyDimseToken(oldToken.token), /session-ended/, 'and its DIMSE token');
      t.same(await s.listDimseTokens('eve'), [], 'which is no longer listed');
      for (const m of [...made.slice(1), sixth]) t.ok(await s.verify(m.token), 'the other five live on');
      t.equal((await s.listSessions('eve')).length, 5);

      // A session that ended frees its slot: the next login ends nobody.
      await s.revoke(made[3]!.sid);
      const seventh = await s.create(eve, '10.0.1.10');
      for (const m of [made[1]!, made[2]!, made[4]!, sixth, seventh]) t.ok(await s.verify(m.token), 'a free slot is taken first');

      const kept = await s.issueDimseToken(await s.verify(seventh.token));
      const other = await s.issueDimseToken(await s.verify(sixth.token));
      t.equal(await s.revokeOthers('eve', seventh.sid), 4, 'sign out everywhere else ends the four others');
      t.same((await s.listSessions('eve')).map((r) => r.sid), [seventh.sid]);
      await refused(t, s.verify(sixth.token), /has ended/, 'another session is over');
      await refused(t, s.verifyDimseToken(other.token), /session-ended/, 'with its token');
      t.ok(await s.verifyDimseToken(kept.token), 'this session\'s token lives on');

      const again = await s.create(eve, '10.0.1.11');
      t.equal(await s.revokeUser('eve', 'user-disabled'), true);
      await refused(t, s.verify(seventh.token), /has ended/, 'revokeUser ends every session');
      await refused(t, s.verify(again.token), /has ended/, 'every one');
      t.same(await s.listSessions('eve'), []);
    });
  }
});

t.test('concurrent logins never leave more than maxPerUser sessions', async (t) => {
  const clock = testClock();
  for (const [name, store] of await stores(t, clock)) {
    await t.test(name, async (t) => {
      const s = service(store, clock, undefined, 3);
      const made = await Promise.all(Array.from({ length: 12 }, () => s.create(user('fay'), '10.0.0.3')));
      const alive = (await Promise.all(made.map((m) => s.verify(m.token).then(() => 1, () => 0)))).reduce<number>((x, y) => x + y, 0);
      t.ok(alive >= 1 && alive <= 3, `${alive} of twelve concurrent sessions survive (at most three)`);
    });
  }
});

t.test('maxPerUser lowered: the next login ends the sessions beyond the new limit, not only one', async (t) => {
  const clock = testClock();
  for (const [name, store] of await stores(t, clock)) {
    await t.test(name, async (t) => {
      const before = service(store, clock, undefined, 5);
      const made = [];
      for (let i = 0; i < 5; i++) { made.push(await before.create(user('gil'), `10.0.2.${i}`)); clock.advance(1000); }
      const after = service(store, clock, undefined, 2);
      const next = await after.create(user('gil'), '10.0.2.9');
      const alive = [];
      for (const m of [...made, next]) if (await after.verify(m.token).then(() => true, () => false)) alive.push(m.sid);
      t.ok(alive.includes(next.sid), 'the new login lives');
      t.equal(alive.length, 2, `${alive.length} sessions live after a login with maxPerUser 2`);
      t.equal((await after.listSessions('gil')).length, 2, 'and two are listed');
    });
  }
});

t.test('localSessions: false (auth.local: false) ends a local sign-in\'s session at its next use, with its tokens; an IdP session lives on', async (t) => {
  const clock = testClock();
  for (const [name, store] of await stores(t, clock)) {
    await t.test(name, async (t) => {
      // A replica with auth.local still on opened the session; one with it off meets it on the same store.
      const before = service(store, clock);
      const local = await before.create(user('lea'), '127.0.0.1');
      const token = await before.issueDimseToken(await before.verify(local.token));
      const idp = await before.createExternal({ username: 'ida', stamp: 'idp-stamp', idp: 'oidc', role: 'viewer' }, '127.0.0.1');

      const after = new SessionService({ store, clock, signingKey, idleMs: IDLE, maxMs: MAX, dimseTokenMs: 60 * MIN, localSessions: false });
      t.same(await after.checkSession(local.sid, 'lea'), { ok: false, reason: 'local-login-disabled' }, 'an open association\'s re-check ends it');
      await refused(t, after.verify(local.token), /has ended/, 'the session no longer admits');
      await refused(t, before.verify(local.token), /has ended/, 'nor on the replica that opened it: the record is gone');
      await refused(t, after.verifyDimseToken(token.token), /session that issued this DIMSE token is over/, 'its DIMSE token is refused');
      t.match(await after.verify(idp.token), { username: 'ida', idp: 'oidc' }, 'the IdP user\'s session still admits');

      const fresh = await before.create(user('lia'), '127.0.0.1');
      await t.rejects(after.verify(fresh.token), { code: 'ERR_SESSION_EXPIRED', message: /auth\.local: false/ }, 'the first refusal says why');
    });
  }
});
