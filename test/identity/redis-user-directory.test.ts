// The Redis user directory on a real redis-server: replicas see each other's changes at once, and it fails closed.

import t, { type Test } from 'tap';
import { isGatewayError } from '../../src/errors.js';
import { RedisUserDirectory, USERS_CHANNEL, USERS_KEY } from '../../src/identity/redis-user-directory.js';
import type { UserRecord } from '../../src/identity/user-record.js';
import { RedisStore } from '../../src/state/redis-store.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { eventually } from '../state/store-contract.js';
import { waitFor } from '../helpers/tools.js';

const server = await startRedis();
t.teardown(() => server.destroy());

function user(username: string, extra: Partial<UserRecord> = {}): UserRecord {
  return {
    username, role: 'clinician', passwordHash: 'scrypt$16384$8$1$c2FsdA$a2V5',
    totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', disabled: false,
    createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z', ...extra,
  };
}

let n = 0;
/** Two "replicas": each with its own store (own connections) on the same Redis and prefix. */
async function replicas(t: Test, s: RedisServer = server, options: Parameters<typeof RedisUserDirectory.open>[1] = {}) {
  const prefix = `dir${++n}:`;
  const storeA = new RedisStore({ redis: s.options(), keyPrefix: prefix, maxRetryDelayMs: 200 });
  const storeB = new RedisStore({ redis: s.options(), keyPrefix: prefix, maxRetryDelayMs: 200 });
  const a = await RedisUserDirectory.open(storeA, options);
  const b = await RedisUserDirectory.open(storeB, options);
  t.teardown(async () => {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([storeA.close(), storeB.close()]);
  });
  return { a, b, storeA, storeB, prefix };
}

t.test('an add or update on one replica is seen by the other at once', async (t) => {
  const { a, b, storeA } = await replicas(t);
  const seenByB: string[][] = [];
  b.onChange((names) => seenByB.push([...names]));
  const seenByA: string[][] = [];
  a.onChange((names) => seenByA.push([...names]));
  t.ok(await eventually(() => storeA.isSubscribed()));

  await a.add(user('alice'));
  t.same(seenByA, [['alice']], 'the writer sees its own change at once');
  t.ok(await eventually(async () => (await b.get('alice')) !== undefined, 1000), 'B sees the new user');
  t.same(seenByB, [['alice']], 'and tells its listeners');

  const updated = await b.update('alice', { disabled: true, role: 'viewer' });
  t.equal(updated.disabled, true);
  t.equal(updated.createdAt, '2024-01-01T00:00:00.000Z', 'createdAt is kept');
  t.not(updated.updatedAt, '2024-01-01T00:00:00.000Z', 'updatedAt is stamped');
  t.ok(await eventually(async () => (await a.get('alice'))?.disabled === true, 1000), 'A sees alice disabled');
  t.equal((await a.get('alice'))?.role, 'viewer');
  t.ok(await eventually(() => seenByA.length === 2));
  t.same(seenByA, [['alice'], ['alice']], 'no duplicate change event for the echo of our own write');
  t.same((await a.list()).map((u) => u.username), ['alice']);
});

t.test('users live in one hash: field = username, value = the JSON record', async (t) => {
  const { a, prefix } = await replicas(t);
  await a.add(user('bob'));
  const raw = server.client();
  t.teardown(() => raw.quit());
  t.equal(await raw.type(`${prefix}${USERS_KEY}`), 'hash');
  t.same(JSON.parse((await raw.hget(`${prefix}${USERS_KEY}`, 'bob')) ?? 'null'), user('bob'));
  t.equal(await raw.pttl(`${prefix}${USERS_KEY}`), -1, 'the directory is persistent, not volatile state');
});

t.test('add is atomic: a name is taken once, whoever tries', async (t) => {
  const { a, b } = await replicas(t);
  const results = await Promise.allSettled([a.add(user('carol')), b.add(user('carol', { role: 'admin' })), a.add(user('carol'))]);
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  t.ok(results.filter((r) => r.status === 'rejected').every((r) => isGatewayError(r.reason, 'ERR_USER_EXISTS')));
  await t.rejects(b.add(user('Not Valid')), { code: 'ERR_USERNAME_INVALID' });
});

t.test('update is atomic: concurrent updates of different fields are all kept', async (t) => {
  const { a, b, prefix } = await replicas(t);
  await a.add(user('dave'));
  await Promise.all([
    a.update('dave', { role: 'radiologist' }),
    b.update('dave', { disabled: true }),
    a.update('dave', { totpSecret: 'KRSXG5CTMVRXEZLUKN2XAZLSKNSXI3DF' }),
    b.update('dave', { passwordHash: 'scrypt$16384$8$1$bmV3$bmV3' }),
  ]);
  // Every write is in Redis when its update() resolves; b's copy catches up on the change notices.
  const complete = (u: UserRecord | undefined) => u?.role === 'radiologist' && u.disabled && u.totpSecret === 'KRSXG5CTMVRXEZLUKN2XAZLSKNSXI3DF' && u.passwordHash === 'scrypt$16384$8$1$bmV3$bmV3';
  const d = await waitFor(async () => { const u = await b.get('dave'); return complete(u) ? u : undefined; }, 5_000).catch(() => b.get('dave'));
  t.equal(d?.role, 'radiologist');
  t.equal(d?.disabled, true);
  t.equal(d?.totpSecret, 'KRSXG5CTMVRXEZLUKN2XAZLSKNSXI3DF');
  t.equal(d?.passwordHash, 'scrypt$16384$8$1$bmV3$bmV3');
  await t.rejects(a.update('nobody', { disabled: true }), { code: 'ERR_USER_UNKNOWN' });
  const patched = await a.update('dave', { username: 'mallory', createdAt: 'x', role: undefined } as never);
  t.equal(patched.username, 'dave', 'username cannot be patched');
  t.equal(patched.role, 'radiologist', 'an undefined field changes nothing');
  await a.update('dave', { aeTitles: ['CT01'] });
  t.same((await a.get('dave'))?.aeTitles, ['CT01']);
  const cleared = await a.update('dave', { aeTitles: undefined });
  t.equal(cleared.aeTitles, undefined, 'aeTitles given as undefined are removed (users set-ae without --ae), as in the users file');
  const raw = server.client();
  t.teardown(() => raw.quit());
  t.notOk('aeTitles' in (JSON.parse((await raw.hget(`${prefix}${USERS_KEY}`, 'dave')) ?? '{}') as object), 'and gone from Redis too');
});

t.test('get() answers from memory while in step, and reload() re-reads Redis', async (t) => {
  const { a, prefix } = await replicas(t);
  await a.add(user('erin'));
  const raw = server.client();
  t.teardown(() => raw.quit());
  // A change written behind the directory's back (no notice): the copy does not see it…
  await raw.hset(`${prefix}${USERS_KEY}`, 'erin', JSON.stringify(user('erin', { disabled: true })));
  t.equal((await a.get('erin'))?.disabled, false, 'served from the in-memory copy');
  // …until a reload or a notice.
  await a.reload();
  t.equal((await a.get('erin'))?.disabled, true);
  await raw.hset(`${prefix}${USERS_KEY}`, 'erin', JSON.stringify(user('erin', { role: 'admin' })));
  await raw.publish(`${prefix}${USERS_CHANNEL}`, 'not json');
  t.ok(await eventually(async () => (await a.get('erin'))?.role === 'admin'), 'a malformed notice triggers a full re-read');
});

t.test('an invalid entry in Redis is no user', async (t) => {
  const { a, b, prefix } = await replicas(t);
  const raw = server.client();
  t.teardown(() => raw.quit());
  await raw.hset(`${prefix}${USERS_KEY}`, 'broken', '{"role": 5}', 'garbage', 'not json');
  await raw.publish(`${prefix}${USERS_CHANNEL}`, JSON.stringify(['broken', 'garbage']));
  await b.reload();
  t.equal(await a.get('broken'), undefined);
  t.equal(await b.get('garbage'), undefined);
  t.same(await b.list(), []);
  await t.rejects(a.update('broken', { disabled: true }), { code: 'ERR_USERS_FILE' });
});

t.test('the CLI mode (watch: false) reads Redis on every call; watching replicas see its writes', async (t) => {
  const { a, storeA, prefix } = await replicas(t);
  const cliStore = new RedisStore({ redis: server.options(), keyPrefix: prefix });
  const cli = await RedisUserDirectory.open(cliStore, { watch: false });
  t.teardown(async () => { await cli.close(); await cliStore.close(); });
  t.ok(await eventually(() => storeA.isSubscribed()));
  await cli.add(user('frank'));
  t.ok(await eventually(async () => (await a.get('frank')) !== undefined, 1000));
  await cli.update('frank', { disabled: true });
  t.ok(await eventually(async () => (await a.get('frank'))?.disabled === true, 1000), 'a disable takes effect at once');
  await a.update('frank', { role: 'admin' });
  t.equal((await cli.get('frank'))?.role, 'admin');
  t.same((await cli.list()).map((u) => u.username), ['frank']);
  await cli.reload();
});

t.test('a change made while a replica\'s subscription is down is not missed', async (t) => {
  const { a, storeA, prefix } = await replicas(t);
  await a.add(user('gina'));
  t.ok(await eventually(() => storeA.isSubscribed()));
  const raw = server.client();
  t.teardown(() => raw.quit());
  // Cut every pub/sub connection, then change gina without a notice reaching A.
  await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  t.ok(await eventually(() => !storeA.isSubscribed(), 1000), 'A noticed');
  await raw.hset(`${prefix}${USERS_KEY}`, 'gina', JSON.stringify(user('gina', { disabled: true })));
  await raw.publish(`${prefix}${USERS_CHANNEL}`, JSON.stringify(['gina']));
  t.equal((await a.get('gina'))?.disabled, true, 'no stale answer');
  t.ok(await eventually(() => storeA.isSubscribed(), 3000), 'the subscription returns');
  t.ok(await eventually(async () => (await a.get('gina'))?.disabled === true));
});

t.test('fails closed while Redis is down and catches up when it returns', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.destroy());
  const { a, b, storeA, storeB } = await replicas(t, own);
  await a.add(user('hank'));
  t.ok(await eventually(async () => (await b.get('hank')) !== undefined));
  const reloadErrors: unknown[] = [];
  const storeC = new RedisStore({ redis: own.options(), keyPrefix: storeA.keyPrefix, maxRetryDelayMs: 200 });
  const c = await RedisUserDirectory.open(storeC, { onReloadError: (err) => reloadErrors.push(err) });
  t.teardown(async () => { await c.close(); await storeC.close(); });

  await own.stop();
  t.ok(await eventually(() => !storeA.isAvailable() && !storeB.isAvailable() && !storeC.isAvailable()));
  await t.rejects(a.get('hank'), { code: 'ERR_STORE_UNAVAILABLE' }, 'no answer from a copy that can no longer be told about changes');
  await t.rejects(b.list(), { code: 'ERR_STORE_UNAVAILABLE' });
  await t.rejects(a.add(user('ivan')), { code: 'ERR_STORE_UNAVAILABLE' });
  await t.rejects(b.update('hank', { disabled: true }), { code: 'ERR_STORE_UNAVAILABLE' });
  await c.reload();
  t.equal(reloadErrors.length, 1, 'reload() does not reject; it reports');
  t.ok(isGatewayError(reloadErrors[0], 'ERR_STORE_UNAVAILABLE'));

  await own.restart();
  t.ok(await eventually(() => storeA.isAvailable() && storeB.isAvailable(), 5000));
  // Redis came back empty (nothing is saved in tests): every replica notices that too.
  t.ok(await eventually(async () => (await a.get('hank').catch(() => 'error')) === undefined, 3000));
  await b.add(user('hank', { role: 'admin' }));
  t.ok(await eventually(async () => (await a.get('hank'))?.role === 'admin', 2000));
});

t.test('opening while Redis is down: fails closed, then serves once Redis returns', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.destroy());
  await own.stop();
  const store = new RedisStore({ redis: own.options(), keyPrefix: 'late:', maxRetryDelayMs: 200 });
  const d = await RedisUserDirectory.open(store, { refreshMs: 100 });
  t.teardown(async () => { await d.close(); await store.close(); });
  await t.rejects(d.get('alice'), { code: 'ERR_STORE_UNAVAILABLE' });
  await own.restart();
  const raw = own.client();
  t.teardown(() => raw.quit());
  await raw.hset(`late:${USERS_KEY}`, 'alice', JSON.stringify(user('alice')));
  t.ok(await eventually(async () => (await d.get('alice').catch(() => undefined))?.username === 'alice', 5000));
  t.ok(await eventually(() => store.isSubscribed()));
  await d.close();
  await d.close();
});
