// Chooses the state store the configuration asks for: the embedded memory store or Redis.

import type { Logger } from 'pino';
import type { Audit } from '../audit/audit.js';
import type { GatewayConfig } from '../config/types.js';
import type { Clock } from '../util/clock.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';

export interface StoreDeps {
  readonly logger?: Logger;
  /** Receives `store.unavailable` / `store.recovered` alerts (Redis). */
  readonly audit?: Audit;
  /** Clock for the memory store's expiry (tests). */
  readonly clock?: Clock;
  /** Directory relative TLS file paths in `state.redis.tls` are resolved against (`config.baseDir`). */
  readonly baseDir?: string;
}

/**
 * Opens the store named by `state.store`. Returns at once: a Redis store connects in the
 * background, its first commands wait for that first attempt (at most connect + command
 * timeout), and it fails closed until Redis answers. Narrow on `kind` to reach Redis-only
 * methods (the Redis user directory needs a RedisStore).
 */
export function createStore(state: GatewayConfig['state'], deps: StoreDeps = {}): MemoryStore | RedisStore {
  if (state.store === 'memory') return new MemoryStore({ clock: deps.clock });
  return new RedisStore({ redis: state.redis, keyPrefix: state.keyPrefix, baseDir: deps.baseDir, audit: deps.audit, logger: deps.logger });
}
