// The StateStore contract through Redis Cluster and through Sentinel (real redis-server processes).

import t from 'tap';
import { RedisStore } from '../../src/state/redis-store.js';
import { startRedisCluster, startRedisSentinel } from '../helpers/redis.js';
import { eventually, storeContract } from './store-contract.js';

t.test('Redis Cluster (3 masters)', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.destroy());
  let n = 0;
  await storeContract(t, () => new RedisStore({ redis: cluster.options(), keyPrefix: `c${++n}:` }));

  t.test('keys spread over the nodes, and cross-instance notices work', async (t) => {
    const a = new RedisStore({ redis: cluster.options(), keyPrefix: 'spread:' });
    const b = new RedisStore({ redis: cluster.options(), keyPrefix: 'spread:' });
    t.teardown(() => Promise.all([a.close(), b.close()]));
    for (let i = 0; i < 30; i++) await a.increment(`k${i}`, 60_000);
    t.equal(await b.getNumber('k29'), 1);
    const got: string[] = [];
    await a.subscribe('users', (m) => got.push(m));
    await b.publish('users', 'hello');
    t.ok(await eventually(() => got.length === 1));
    t.ok(a.isSubscribed());
  });
});

t.test('Sentinel', async (t) => {
  const sentinel = await startRedisSentinel();
  t.teardown(() => sentinel.destroy());
  let n = 0;
  await storeContract(t, () => new RedisStore({ redis: sentinel.options(), keyPrefix: `s${++n}:` }));
});
