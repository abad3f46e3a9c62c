// The StateStore contract and the Redis-only promises (fail closed, recovery, ACL, TLS, prefixes) on a real redis-server.

import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import t from 'tap';
import { Audit } from '../../src/audit/audit.js';
import { createLogger } from '../../src/audit/logger.js';
import { isGatewayError } from '../../src/errors.js';
import { createStore } from '../../src/state/create-store.js';
import { MemoryStore } from '../../src/state/memory-store.js';
import { RedisStore, type ConnectionEvent } from '../../src/state/redis-store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { eventually, storeContract } from './store-contract.js';

/** A logger and audit trail whose JSON lines are kept in memory. */
function capture(): { lines: string[]; audit: Audit; logger: ReturnType<typeof createLogger>; alerts(name: string): number } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (s: string) => { lines.push(s); } } });
  return {
    lines, logger, audit: new Audit(logger),
    alerts: (name) => lines.filter((l) => (JSON.parse(l) as { alert?: { name?: string } }).alert?.name === name).length,
  };
}

const server = await startRedis();
t.teardown(() => server.destroy());

let prefixCounter = 0;
const store = (s: RedisServer, extra: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}): RedisStore =>
  new RedisStore({ redis: s.options(), keyPrefix: `t${++prefixCounter}:`, maxRetryDelayMs: 200, ...extra });

t.test('contract', async (t) => {
  await storeContract(t, () => store(server));
});

t.test('createStore chooses the implementation from config', async (t) => {
  const m = createStore({ store: 'memory', keyPrefix: 'x:', redis: server.options() });
  t.ok(m instanceof MemoryStore);
  await m.close();
  const r = createStore({ store: 'redis', keyPrefix: 'cs:', redis: server.options() }, { logger: capture().logger });
  t.ok(r instanceof RedisStore);
  t.equal(r.kind, 'redis');
  await r.putRecord('k', { a: 1 }, 60_000);
  t.same(await r.getRecord('k'), { a: 1 });
  await r.close();
});

t.test('every key carries the prefix and a TTL; channels carry the prefix', async (t) => {
  const raw = server.client();
  t.teardown(() => raw.quit());
  await raw.flushall();
  const s = new RedisStore({ redis: server.options(), keyPrefix: 'pgw-a:' });
  const other = new RedisStore({ redis: server.options(), keyPrefix: 'pgw-b:' });
  t.teardown(() => Promise.all([s.close(), other.close()]));
  await s.putRecord('session:1', { lastSeen: 1 }, 60_000);
  await s.touchRecord('session:1', 2, 60_000);
  await s.increment('fail:user:alice', 60_000);
  await s.setIfGreater('totp-used:alice', 5, 60_000);
  await s.setNumber('lock:user:alice', 9, 60_000);
  await s.swap('user-session:alice', 'sid', 60_000);
  await s.reserveAttempt('attempts:user:alice', { now: Date.now(), windowMs: 20_000, limit: 5, lockMs: 20_000 });
  await s.lockAttempts('attempts:addr:192.0.2.1', Date.now(), Date.now() + 60_000);
  const keys = (await raw.keys('*')).sort();
  t.same(keys, [
    'pgw-a:attempts:addr:192.0.2.1', 'pgw-a:attempts:user:alice',
    'pgw-a:fail:user:alice', 'pgw-a:lock:user:alice', 'pgw-a:session:1', 'pgw-a:totp-used:alice', 'pgw-a:user-session:alice',
  ]);
  for (const k of keys) {
    const ttl = await raw.pttl(k);
    t.ok(ttl > 0 && ttl <= 60_000, `${k} has a TTL (${ttl})`);
  }
  t.equal(await other.getNumber('lock:user:alice'), 0, 'another prefix sees none of it');
  t.equal(await other.getRecord('session:1'), null);

  const sub = raw.duplicate();
  t.teardown(() => sub.quit());
  const got: string[] = [];
  sub.on('message', (channel: string, m: string) => got.push(`${channel}=${m}`));
  await sub.subscribe('pgw-a:users');
  await s.publish('users', 'hello');
  t.ok(await eventually(() => got.length === 1));
  t.same(got, ['pgw-a:users=hello']);
  const viaOther: string[] = [];
  await other.subscribe('users', (m) => viaOther.push(m));
  await s.publish('users', 'not for b');
  await new Promise((r) => setTimeout(r, 100));
  t.same(viaOther, [], 'a store with another prefix does not hear it');
});

t.test('two store instances share state and change notices', async (t) => {
  const a = store(server);
  const b = new RedisStore({ redis: server.options(), keyPrefix: a.keyPrefix });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await a.putRecord('s', { lastSeen: 1 }, 60_000);
  t.same(await b.touchRecord('s', 2, 60_000), { lastSeen: 1 });
  t.same(await a.getRecord('s'), { lastSeen: 2 });
  await Promise.all([...Array.from({ length: 20 }, () => a.increment('n', 60_000)), ...Array.from({ length: 20 }, () => b.increment('n', 60_000))]);
  t.equal(await a.getNumber('n'), 40);
  const got: string[] = [];
  await a.subscribe('chan', (m) => got.push(m));
  await b.publish('chan', 'from-b');
  t.ok(await eventually(() => got.length === 1));
  t.same(got, ['from-b']);
});

t.test('programmer mistakes are TypeErrors, not outages', async (t) => {
  const s = store(server);
  t.teardown(() => s.close());
  await s.ping();
  await t.rejects(s.putRecord('k', 1, Number.NaN), TypeError);
  await t.rejects(s.putRecord('k', undefined, 1000), TypeError);
  await t.rejects(s.setIfGreater('k', Number.POSITIVE_INFINITY, 1000), TypeError);
  await t.rejects(s.setNumber('k', Number.NaN, 1000), TypeError);
  await t.rejects(s.touchRecord('k', Number.NaN, 1000), TypeError);
  t.equal(s.isAvailable(), true);
  await s.setNumber('k', 1, 0);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(await s.getNumber('k'), 0, 'a TTL of 0 expires at once, as in memory');
});

t.test('a command Redis refuses fails closed without declaring an outage', async (t) => {
  const c = capture();
  const s = store(server, { logger: c.logger, audit: c.audit });
  t.teardown(() => s.close());
  await s.setNumber('wrongtype', 1, 60_000);
  for (let i = 0; i < 3; i++) {
    await t.rejects(s.getRecord('wrongtype'), { code: 'ERR_STORE_UNAVAILABLE' });
  }
  t.equal(s.isAvailable(), true);
  t.equal(c.alerts('store.unavailable'), 0);
  t.equal(c.lines.filter((l) => l.includes('state store refused a command')).length, 1, 'logged once, not per call');
});

t.test('fails closed while redis-server is down, alerts once, recovers by itself', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.destroy());
  const c = capture();
  const s = new RedisStore({ redis: own.options(), keyPrefix: 'fc:', audit: c.audit, logger: c.logger, maxRetryDelayMs: 200 });
  t.teardown(() => s.close());
  await s.putRecord('session', { lastSeen: 1 }, 60_000);
  t.equal(s.isAvailable(), true);
  const events: ConnectionEvent[] = [];
  s.onConnectionEvent((e) => events.push(e));

  await own.stop();
  t.ok(await eventually(() => !s.isAvailable()), 'isAvailable turns false');
  const started = Date.now();
  const calls = await Promise.allSettled([
    s.ping(), s.getRecord('session'), s.putRecord('x', {}, 1000), s.touchRecord('session', 2, 1000),
    s.deleteRecord('session'), s.increment('n', 1000), s.setIfGreater('m', 1, 1000), s.getNumber('n'),
    s.setNumber('n', 1, 1000), s.swap('w', 'v', 1000), s.publish('chan', 'x'),
    ...Array.from({ length: 50 }, () => s.increment('fail:user:alice', 1000)),
  ]);
  t.ok(Date.now() - started < 500, `61 calls failed fast (${Date.now() - started} ms)`);
  t.ok(calls.every((r) => r.status === 'rejected' && isGatewayError(r.reason, 'ERR_STORE_UNAVAILABLE')), 'every call rejected with ERR_STORE_UNAVAILABLE');
  const first = calls[0];
  t.ok(first?.status === 'rejected' && (first.reason as Error).cause instanceof Error, 'the cause is kept');
  t.equal(c.alerts('store.unavailable'), 1, 'exactly one alert for the outage');
  t.equal(c.alerts('store.recovered'), 0);
  await t.rejects(s.ping(), { message: new RegExp(`^Redis redis://127\\.0\\.0\\.1:${own.port}/0 is unreachable: (the connection to Redis closed|connect ECONNREFUSED)`) },
    'ping (and so /readyz) names the target and why');

  await own.restart();
  t.ok(await eventually(() => s.isAvailable(), 5000), 'back without recreating the store');
  t.equal(await s.increment('after', 60_000), 1);
  t.equal(c.alerts('store.recovered'), 1);
  t.equal(c.alerts('store.unavailable'), 1);
  t.same(events, ['unavailable', 'recovered']);

  // a second outage is a second alert
  await own.stop();
  t.ok(await eventually(() => !s.isAvailable()));
  await t.rejects(s.ping(), { code: 'ERR_STORE_UNAVAILABLE' });
  await own.restart();
  t.ok(await eventually(() => s.isAvailable(), 5000));
  t.equal(c.alerts('store.unavailable'), 2);
  t.equal(c.alerts('store.recovered'), 2);
});

t.test('a hung redis-server: commands time out, fail closed, and recover', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.destroy());
  const c = capture();
  const s = new RedisStore({ redis: own.options({ commandTimeoutMs: 300 }), keyPrefix: 'hang:', audit: c.audit, logger: c.logger, maxRetryDelayMs: 200 });
  t.teardown(() => s.close());
  await s.ping();
  own.pause();
  const started = Date.now();
  await t.rejects(s.getNumber('n'), { code: 'ERR_STORE_UNAVAILABLE' });
  t.ok(Date.now() - started < 1500, 'within about the command timeout');
  t.equal(s.isAvailable(), false);
  await t.rejects(s.getNumber('n'), { code: 'ERR_STORE_UNAVAILABLE' });
  own.resume();
  t.ok(await eventually(() => s.isAvailable(), 5000), 'recovers once Redis answers again');
  t.equal(await s.getNumber('n'), 0);
  t.equal(c.alerts('store.unavailable'), 1);
  t.equal(c.alerts('store.recovered'), 1);
});

t.test('starting while Redis is down: fails closed, then connects when it comes up', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.destroy());
  await own.stop();
  const c = capture();
  const s = new RedisStore({ redis: own.options(), keyPrefix: 'boot:', audit: c.audit, logger: c.logger, maxRetryDelayMs: 200 });
  t.teardown(() => s.close());
  await t.rejects(s.ping(), { code: 'ERR_STORE_UNAVAILABLE' });
  t.equal(s.isAvailable(), false);
  t.equal(c.alerts('store.unavailable'), 1);
  await own.restart();
  t.ok(await eventually(() => s.isAvailable(), 5000));
  await s.ping();
  t.equal(c.alerts('store.recovered'), 1);
});

t.test('subscriptions come back after a restart', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.destroy());
  const a = new RedisStore({ redis: own.options(), keyPrefix: 'sub:', maxRetryDelayMs: 200 });
  const b = new RedisStore({ redis: own.options(), keyPrefix: 'sub:', maxRetryDelayMs: 200 });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const events: ConnectionEvent[] = [];
  a.onConnectionEvent((e) => events.push(e));
  const got: string[] = [];
  const listener = (m: string): void => { got.push(m); };
  await a.subscribe('users', listener);
  t.ok(await eventually(() => a.isSubscribed()));
  await own.restart();
  t.ok(await eventually(() => a.isSubscribed() && a.isAvailable() && b.isAvailable(), 5000));
  await b.publish('users', 'after-restart');
  t.ok(await eventually(() => got.length === 1), 'delivered after the restart');
  t.ok(events.includes('subscription-lost') && events.includes('subscription-restored'));
  await a.unsubscribe('users', listener);
  await b.publish('users', 'after-unsubscribe');
  await new Promise((r) => setTimeout(r, 100));
  t.same(got, ['after-restart']);
});

t.test('a subscription made while Redis is down is made when it returns', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.destroy());
  await own.stop();
  const a = new RedisStore({ redis: own.options(), keyPrefix: 'late:', maxRetryDelayMs: 200 });
  const b = new RedisStore({ redis: own.options(), keyPrefix: 'late:', maxRetryDelayMs: 200 });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const got: string[] = [];
  await t.rejects(a.subscribe('users', (m) => got.push(m)), { code: 'ERR_STORE_UNAVAILABLE' });
  await own.restart();
  t.ok(await eventually(() => a.isSubscribed() && b.isAvailable(), 5000));
  await b.publish('users', 'hello');
  t.ok(await eventually(() => got.length === 1));
});

t.test('the least-privilege ACL user of docs/redis.md can do every store operation', async (t) => {
  const line = /^user gateway on .*$/m.exec(readFileSync('docs/redis.md', 'utf8'))?.[0];
  if (line === undefined) throw new Error('docs/redis.md has no "user gateway on …" ACL line');
  const password = 'Doc-Acl-Pass-51e0';
  const rules = line.replace(/^user gateway on /, '').replace('>LONG-RANDOM-PASSWORD', `>${password}`).replaceAll('pgw:prod:', 'docacl:').split(' ');
  const raw = server.client();
  t.teardown(async () => { await raw.call('ACL', 'DELUSER', 'docacl'); await raw.quit(); });
  await raw.call('ACL', 'SETUSER', 'docacl', 'reset', 'on', ...rules);
  await storeContract(t, () => new RedisStore({ redis: server.options({ username: 'docacl', password }), keyPrefix: 'docacl:', maxRetryDelayMs: 200 }));
});

t.test('ACL user with a password: works, and the password never shows', async (t) => {
  const password = 'S3cret-Redis-Pass-7f1c';
  const wrong = 'Wr0ng-Redis-Pass-99aa';
  const own = await startRedis({ password });
  t.teardown(() => own.destroy());
  const c = capture();
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => { warnings.push(args.map(String).join(' ')); };
  t.teardown(() => { console.warn = warn; });

  const good = new RedisStore({ redis: own.options(), keyPrefix: 'acl:', audit: c.audit, logger: c.logger });
  t.teardown(() => good.close());
  await good.putRecord('r', { ok: true }, 60_000);
  t.same(await good.getRecord('r'), { ok: true });
  const viaUrl = new RedisStore({
    redis: own.options({ url: `redis://${own.username ?? ''}:${encodeURIComponent(password)}@127.0.0.1:${own.port}/0`, username: undefined, password: undefined }),
    keyPrefix: 'acl:', logger: c.logger,
  });
  t.teardown(() => viaUrl.close());
  t.same(await viaUrl.getRecord('r'), { ok: true }, 'the url form works too');

  const errors: unknown[] = [];
  const bad = new RedisStore({ redis: own.options({ password: wrong }), keyPrefix: 'acl:', audit: c.audit, logger: c.logger, maxRetryDelayMs: 100 });
  t.teardown(() => bad.close());
  const badUrl = new RedisStore({
    redis: own.options({ url: `redis://${own.username ?? ''}:${wrong}x@127.0.0.1:${own.port}/0`, username: undefined, password: undefined }),
    keyPrefix: 'acl:', audit: c.audit, logger: c.logger, maxRetryDelayMs: 100,
  });
  t.teardown(() => badUrl.close());
  for (const s of [bad, badUrl]) {
    for (let i = 0; i < 3; i++) errors.push(await s.getRecord('r').catch((err: unknown) => err));
    errors.push(await s.subscribe('users', () => undefined).catch((err: unknown) => err));
    t.equal(s.isAvailable(), false);
  }
  await new Promise((r) => setTimeout(r, 400)); // a few reconnect attempts, each refused
  for (const s of [bad, badUrl]) errors.push(await s.ping().catch((err: unknown) => err));
  t.match((errors.at(-1) as Error).message, /is unreachable: WRONGPASS/, 'ping (and so /readyz) says why');
  t.ok(errors.every((e) => isGatewayError(e, 'ERR_STORE_UNAVAILABLE')), 'a wrong password fails closed');
  t.ok(c.lines.some((l) => l.includes('WRONGPASS')), 'the refusal is logged');
  const everything = [
    ...c.lines, ...warnings,
    ...errors.map((e) => inspect(e, { depth: 10, showHidden: true })),
    ...errors.map((e) => JSON.stringify(e, Object.getOwnPropertyNames(e as object))),
    ...errors.map((e) => inspect((e as Error).cause, { depth: 10, showHidden: true })),
  ].join('\n');
  t.notOk(everything.includes(password), 'the right password is in no log line or error');
  t.notOk(everything.includes(wrong), 'nor the wrong one');
  t.notOk(everything.includes(encodeURIComponent(password)));
});

t.test('TLS with a client certificate', async (t) => {
  const own = await startRedis({ tls: true, password: 'tls-pass-123456' });
  t.teardown(() => own.destroy());
  const tls = own.tls;
  if (tls === undefined) throw new Error('no TLS files');
  const s = new RedisStore({ redis: own.options({ tls: { ca: tls.ca, cert: tls.cert, key: tls.key } }), keyPrefix: 'tls:', baseDir: tls.dir });
  t.teardown(() => s.close());
  await s.putRecord('r', { over: 'tls' }, 60_000);
  t.same(await s.getRecord('r'), { over: 'tls' });
  const got: string[] = [];
  await s.subscribe('c', (m) => got.push(m));
  await s.publish('c', 'secure');
  t.ok(await eventually(() => got.length === 1), 'pub/sub over TLS too');

  const plain = new RedisStore({ redis: own.options({ tls: undefined }), keyPrefix: 'tls:', maxRetryDelayMs: 100 });
  t.teardown(() => plain.close());
  await t.rejects(plain.ping(), { code: 'ERR_STORE_UNAVAILABLE' }, 'plain TCP to a TLS port fails closed');

  t.throws(() => new RedisStore({ redis: own.options({ tls: { ca: 'missing-ca.pem' } }), keyPrefix: 'tls:', baseDir: tls.dir }),
    { code: 'ERR_CERT_INVALID', message: /state\.redis\.tls\.ca/ });
});

t.test('close() quits cleanly and later calls fail closed without an alert', async (t) => {
  const c = capture();
  const s = store(server, { audit: c.audit, logger: c.logger });
  await s.subscribe('c', () => undefined);
  await s.ping();
  await s.close();
  await s.close();
  t.equal(s.isAvailable(), false);
  await t.rejects(s.ping(), { code: 'ERR_STORE_UNAVAILABLE' });
  await t.rejects(s.subscribe('c', () => undefined), { code: 'ERR_STORE_UNAVAILABLE' });
  t.equal(c.alerts('store.unavailable'), 0);
});

t.test('a corrupt record fails closed; a throwing listener harms no other', async (t) => {
  const c = capture();
  const s = store(server, { logger: c.logger });
  t.teardown(() => s.close());
  const raw = server.client();
  t.teardown(() => raw.quit());
  await raw.hset(`${s.keyPrefix}bad`, 'j', '{not json');
  await t.rejects(s.getRecord('bad'), { code: 'ERR_STORE_UNAVAILABLE' });
  t.equal(s.isAvailable(), true);

  const got: string[] = [];
  await s.subscribe('c', () => { throw new Error('listener bug'); });
  await s.subscribe('c', (m) => got.push(m));
  s.onConnectionEvent(() => { throw new Error('event listener bug'); });
  await s.publish('c', 'm');
  t.ok(await eventually(() => got.length === 1));
  t.ok(c.lines.some((l) => l.includes('change-notice listener failed')));
});
