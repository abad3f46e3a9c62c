// The Lua scripts that make the Redis store's multi-step updates atomic (one key each, so Cluster-safe).

/**
 * A record lives in a hash: `j` holds the JSON the caller stored, `t` the `lastSeen` that
 * touchRecord wrote since. Keeping the touch outside the JSON means Lua never re-encodes the
 * caller's document (cjson would round numbers to 14 digits and turn `[]` into `{}`).
 */
export const RECORD_JSON_FIELD = 'j';
export const RECORD_SEEN_FIELD = 't';

/**
 * Every script touches exactly one key (KEYS[1]): in Redis Cluster all keys of a script must
 * hash to one slot, and a single key always does.
 */
export const SCRIPTS = Object.freeze({
  /** ARGV: json, ttlMs. Replaces the whole record (a stale `t` must not survive). */
  pgwPutRecord: {
    numberOfKeys: 1,
    lua: `redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'j', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`,
  },
  /** ARGV: now, ttlMs. Returns [json, previous lastSeen or nil] as it was before the touch, or nil. */
  pgwTouchRecord: {
    numberOfKeys: 1,
    lua: `local r = redis.call('HMGET', KEYS[1], 'j', 't')
if not r[1] then return false end
redis.call('HSET', KEYS[1], 't', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return r`,
  },
  /** ARGV: ttlMs. INCR, and PEXPIRE when the counter is new (or somehow lost its TTL). */
  pgwIncrement: {
    numberOfKeys: 1,
    lua: `local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`,
  },
  /** ARGV: value, ttlMs. Stores value when the key is absent or holds a smaller number; 1 when stored. */
  pgwSetIfGreater: {
    numberOfKeys: 1,
    lua: `local cur = redis.call('GET', KEYS[1])
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
  },
  /** ARGV: field, expected, next. Compare-and-set of one hash field; 1 when replaced. */
  pgwHashCompareAndSet: {
    numberOfKeys: 1,
    lua: `if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`,
  },
} as const);

/** The commands `defineCommand` adds to the client, as the store calls them. */
export interface ScriptCommands {
  pgwPutRecord(key: string, json: string, ttlMs: number): Promise<unknown>;
  pgwTouchRecord(key: string, now: number, ttlMs: number): Promise<[string, string | null] | null>;
  pgwIncrement(key: string, ttlMs: number): Promise<number>;
  pgwSetIfGreater(key: string, value: string, ttlMs: number): Promise<number>;
  pgwHashCompareAndSet(key: string, field: string, expected: string, next: string): Promise<number>;
}
