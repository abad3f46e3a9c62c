// Login, TOTP replay, lockout, cookies, session lifetime and logout against a real gateway and oathtool,
// once with the memory state store and once with Redis (state.store + users.backend redis): the same suite.

import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startGateway as startGatewayWith, type TestGateway, type TestGatewayOptions, type TestUser } from '../helpers/gateway.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { run } from '../helpers/tools.js';

const json = { 'content-type': 'application/json' };
const MIN = 60_000;

const redis = await startRedis();
t.teardown(() => redis.destroy());

for (const store of ['memory', 'redis'] as const) {
  t.test(`${store} state store`, async (t) => suite(t, store === 'redis' ? { redis } : {}));
}

function suite(t: Test, base: { redis?: RedisServer }): void {
  const startGateway = (o: TestGatewayOptions) => startGatewayWith({ ...base, ...o });

  t.test('password + TOTP login', async (t) => {
    const gw = await startGateway({ config: { lockout: { userMaxFailures: 5, addressMaxFailures: 1000, windowMinutes: 15, lockMinutes: 15 } } });
    t.teardown(() => gw.stop());
    const alice = await gw.addUser('alice', 'radiologist');
    await gw.addUser('carol', 'viewer');

    const attempt = async (username: string, password: string, totp: string) =>
      gw.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username, password, totp }) });

    await t.test('a code from oathtool logs in; the cookie is __Host-, HttpOnly, Secure, SameSite=Strict', async (t) => {
      gw.clock.advance(30_000);
      const r = await attempt('alice', alice.password, await gw.code(alice));
      t.equal(r.status, 200, r.text);
      const body = r.json();
      t.match(body, { username: 'alice', role: 'radiologist' });
      t.match(body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      t.ok(Date.parse(body.expiresAt) > gw.clock());
      const cookie = String(r.headers['set-cookie']);
      t.match(cookie, /^__Host-pacs-session=[\w.-]+; /);
      for (const flag of ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict']) t.ok(cookie.split('; ').includes(flag), `cookie has ${flag}`);
      t.notMatch(cookie, /Domain=/i, '__Host- cookies carry no Domain');

      const session = await gw.request('GET', '/auth/session', { headers: { cookie: cookie.split(';')[0] as string } });
      t.equal(session.status, 200);
      t.match(session.json(), { principal: 'alice', role: 'radiologist', method: 'session-cookie' });
      const bearer = await gw.request('GET', '/auth/session', { headers: { authorization: `Bearer ${body.token}` } });
      t.match(bearer.json(), { principal: 'alice', method: 'bearer-token' });
    });

    await t.test('the same code is refused a second time (replay), with the same answer as any failure', async (t) => {
      gw.clock.advance(30_000);
      const code = await gw.code(alice);
      t.equal((await attempt('alice', alice.password, code)).status, 200);
      const replay = await attempt('alice', alice.password, code);
      const wrongPassword = await attempt('alice', 'not-the-password', await gw.code(alice));
      const wrongCode = await attempt('alice', alice.password, code === '000000' ? '111111' : '000000');
      const unknownUser = await attempt('mallory', alice.password, code);
      const answers = [replay, wrongPassword, wrongCode, unknownUser];
      for (const a of answers) {
        t.equal(a.status, 401);
        t.same(a.json(), { statusCode: 401, error: 'ERR_LOGIN_FAILED', message: 'Login failed: wrong username, password or code' });
      }
      const reasons = gw.auditEvents('auth.login').filter((e) => e.decision === 'deny').map((e) => e.reason);
      t.same(reasons.slice(-4), ['totp-replayed', 'wrong-password', 'wrong-totp', 'unknown-user'], 'the audit trail tells the failures apart');
    });

    await t.test('a code from the previous and next step is accepted (±1 step), two steps away is not', async (t) => {
      gw.clock.advance(90_000);
      t.equal((await attempt('alice', alice.password, await gw.code(alice, -30_000))).status, 200);
      gw.clock.advance(90_000);
      t.equal((await attempt('alice', alice.password, await gw.code(alice, 30_000))).status, 200);
      gw.clock.advance(90_000);
      t.equal((await attempt('alice', alice.password, await gw.code(alice, -60_000))).status, 401);
    });

    await t.test('failures lock the account for lockMinutes; the lock expires (injected clock)', async (t) => {
      const carol = { username: 'carol' } as TestUser;
      gw.clock.advance(16 * MIN); // a fresh failure window
      for (let i = 0; i < 5; i++) t.equal((await attempt(carol.username, 'wrong-password-x', '123456')).status, 401);
      const locked = await attempt('carol', 'wrong-password-x', '123456');
      t.equal(locked.status, 429);
      t.equal(locked.json().error, 'ERR_LOCKED_OUT');
      t.ok(Number(locked.headers['retry-after']) > 0, 'Retry-After says how long');
      t.ok(gw.logs.some((l) => l['alert']?.name === 'lockout.user' && l['alert'].username === 'carol'), 'an alert is logged');
      gw.clock.advance(16 * MIN);
      t.equal((await attempt('carol', 'wrong-password-x', '123456')).status, 401, 'after the lock, attempts are checked again');
    });

    await t.test('an unknown user is locked out just like a real one (no enumeration)', async (t) => {
      gw.clock.advance(16 * MIN);
      for (let i = 0; i < 5; i++) await attempt('nobody', 'whatever-pass', '123456');
      t.equal((await attempt('nobody', 'whatever-pass', '123456')).status, 429);
    });

    await t.test('failures on both sides of a counting-window boundary add up', async (t) => {
    gw.clock.advance(31 * MIN); // clear of earlier buckets
    const window = 15 * MIN;
    gw.clock.advance(window - (gw.clock() % window) - 60_000); // one minute before a boundary
    for (let i = 0; i < 3; i++) await attempt('frank', 'wrong-password-y', '123456');
    gw.clock.advance(2 * 60_000); // one minute after it
    for (let i = 0; i < 2; i++) await attempt('frank', 'wrong-password-y', '123456');
    t.equal((await attempt('frank', 'wrong-password-y', '123456')).status, 429, '3 + 2 failures reach the limit of 5');
  });

  await t.test('malformed login bodies get 400', async (t) => {
      t.equal((await gw.request('POST', '/auth/login', { headers: json, body: '{"username":"alice"}' })).status, 400);
      t.equal((await gw.request('POST', '/auth/login', { headers: json, body: 'not json' })).status, 400);
      t.equal((await gw.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username: 'a'.repeat(5000), password: 'x', totp: '1' }) })).status, 400);
    });
  });

  t.test('address lockout', async (t) => {
    const gw = await startGateway({ config: { lockout: { userMaxFailures: 100, addressMaxFailures: 3, windowMinutes: 15, lockMinutes: 5 } } });
    t.teardown(() => gw.stop());
    const dave = await gw.addUser('dave', 'viewer');
    for (const name of ['u1', 'u2', 'u3']) {
      await gw.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username: name, password: 'some-password', totp: '123456' }) });
    }
    gw.clock.advance(30_000);
    const r = await gw.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username: 'dave', password: dave.password, totp: await gw.code(dave) }) });
    t.equal(r.status, 429, 'even a correct login from a locked address is refused');
    t.ok(gw.logs.some((l) => l['alert']?.name === 'lockout.address'));
    gw.clock.advance(6 * MIN);
    t.equal((await gw.login(dave)).length > 0, true, 'the address lock expires');
  });

  t.test('session lifetime: idle timeout, absolute lifetime, logout, re-login, disabled user', async (t) => {
    // One session per user here (session.maxPerUser: 1), so that logging in again replaces the old one.
    const gw: TestGateway = await startGateway({ config: { session: { idleMinutes: 10, maxHours: 1, maxPerUser: 1 } } });
    t.teardown(() => gw.stop());
    const erin = await gw.addUser('erin', 'viewer');
    const session = (token: string) => gw.request('GET', '/auth/session', { headers: { authorization: `Bearer ${token}` } });

    await t.test('idle timeout', async (t) => {
      const token = await gw.login(erin);
      gw.clock.advance(9 * MIN);
      t.equal((await session(token)).status, 200, 'used within the idle window');
      gw.clock.advance(9 * MIN);
      t.equal((await session(token)).status, 200, 'each use restarts the idle window');
      gw.clock.advance(10 * MIN + 1000);
      const r = await session(token);
      t.equal(r.status, 401);
      t.match(r.json().message, /inactivity/);
      t.match(String(r.headers['www-authenticate']), /^Bearer /);
    });

    await t.test('absolute lifetime', async (t) => {
      const token = await gw.login(erin);
      for (let i = 0; i < 6; i++) {
        gw.clock.advance(9 * MIN);
        t.equal((await session(token)).status, 200);
      }
      gw.clock.advance(7 * MIN);
      const r = await session(token);
      t.equal(r.status, 401);
      t.match(r.json().message, /maximum lifetime|expired/);
    });

    await t.test('logout ends the session', async (t) => {
      const token = await gw.login(erin);
      const out = await gw.request('POST', '/auth/logout', { headers: { authorization: `Bearer ${token}` } });
      t.equal(out.status, 200);
      t.match(String(out.headers['set-cookie']), /Max-Age=0/);
      t.equal((await session(token)).status, 401);
      t.ok(gw.auditEvents('auth.logout').some((e) => e.principal === 'erin'));
    });

    await t.test('logging in again beyond session.maxPerUser replaces the old session', async (t) => {
      const first = await gw.login(erin);
      const second = await gw.login(erin);
      t.equal((await session(first)).status, 401);
      t.equal((await session(second)).status, 200);
    });

    await t.test('a tampered or foreign token is refused', async (t) => {
      const token = await gw.login(erin);
      const [h, p, s] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${s}`;
      t.equal((await session(forged)).status, 401);
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
      t.equal((await gw.request('GET', '/auth/session', { headers: { authorization: `Bearer ${none}` } })).status, 401);
      t.equal((await gw.request('GET', '/auth/session', { headers: { authorization: 'Basic YTpi' } })).status, 401);
    });

    await t.test('DIMSE tokens: need a session, have their own audience, can be revoked', async (t) => {
      const token = await gw.login(erin);
      const issued = await gw.request('POST', '/auth/dimse-token', { headers: { authorization: `Bearer ${token}` } });
      t.equal(issued.status, 200);
      const dimse = issued.json();
      t.match(dimse, { token: /^[\w-]+\.[\w-]+\.[\w-]+$/, tokenId: String, expiresAt: String });
      t.ok(Date.parse(dimse.expiresAt) <= gw.clock() + 60 * MIN + 1000, 'short-lived');
      t.equal((await session(dimse.token)).status, 401, 'a DIMSE token is not an HTTP session');
      t.equal((await gw.request('POST', '/auth/dimse-token')).status, 401, 'no session, no token');
      const other = await gw.request('DELETE', `/auth/dimse-token/${'x'.repeat(22)}`, { headers: { authorization: `Bearer ${token}` } });
      t.equal(other.status, 404);
      const revoked = await gw.request('DELETE', `/auth/dimse-token/${dimse.tokenId}`, { headers: { authorization: `Bearer ${token}` } });
      t.same(revoked.json(), { revoked: true });
      t.ok(gw.auditEvents('auth.token').some((e) => e.reason === 'dimse-token-revoked'));
    });

    await t.test('a user disabled with the CLI loses access at once (users file reloaded, or Redis change notice)', async (t) => {
      const token = await gw.login(erin);
      t.equal((await session(token)).status, 200);
      const cli = await run(process.execPath, [join(process.cwd(), 'bin/pacs-gateway.js'), 'users', 'disable', 'erin', '--config', gw.configFile], { cwd: gw.dir });
      t.equal(cli.code, 0, cli.stderr);
      // The file watcher (or the Redis change notice) picks the change up; wait for it rather than a fixed time.
      let status = 200;
      for (let i = 0; i < 100 && status === 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        status = (await session(token)).status;
      }
      t.equal(status, 401, 'the session ends');
      gw.clock.advance(30_000);
      const again = await gw.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username: 'erin', password: erin.password, totp: await gw.code(erin) }) });
      t.equal(again.status, 401, 'and a disabled user cannot log in');
    });
  });
}
