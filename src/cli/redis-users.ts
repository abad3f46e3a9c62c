// Opens the Redis user directory for one CLI command (no cache, no subscription; closes the store with it).

import type { GatewayConfig } from '../config/types.js';
import { RedisUserDirectory } from '../identity/redis-user-directory.js';
import type { UserDirectory } from '../identity/user-directory.js';
import { RedisStore } from '../state/redis-store.js';

export async function openRedisUserDirectory(config: GatewayConfig): Promise<UserDirectory> {
  const store = new RedisStore({ redis: config.state.redis, keyPrefix: config.state.keyPrefix, baseDir: config.baseDir });
  try {
    await store.ping();
  } catch (err) {
    await store.close();
    throw err;
  }
  const dir = await RedisUserDirectory.open(store, { watch: false });
  return {
    kind: dir.kind,
    get: (u) => dir.get(u),
    list: () => dir.list(),
    add: (r) => dir.add(r),
    update: (u, p) => dir.update(u, p),
    reload: () => dir.reload(),
    onChange: (l) => dir.onChange(l),
    close: async () => {
      await dir.close();
      await store.close();
    },
  };
}
