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
  /**
   * An attempts hash (login lockouts): field `lock` (locked until, ms) and one count per bucket.
   * ARGV: now, current bucket field, previous bucket field, limit, lock-until, ttlMs, lockMs.
   * Returns {1, count} when counted, {0, lockedUntil, 1 if this call locked it} when refused.
   */
  pgwReserveAttempt: {
    numberOfKeys: 1,
    lua: `local r = redis.call('HMGET', KEYS[1], 'lock', ARGV[2], ARGV[3])
if tonumber(r[1] or '0') > tonumber(ARGV[1]) then return {0, r[1], 0} end
local n = tonumber(r[2] or '0') + tonumber(r[3] or '0')
if n >= tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'lock', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[7])
  return {0, ARGV[5], 1}
end
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if f ~= ARGV[2] and f ~= ARGV[3] then redis.call('HDEL', KEYS[1], f) end
end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {1, tostring(n + 1), 0}`,
  },
  /** ARGV: bucket field. Takes one back from the bucket's count, never below zero. */
  pgwReleaseAttempt: {
    numberOfKeys: 1,
    lua: `if tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1], -1) end
return 1`,
  },
  /** ARGV: now, until, ttlMs. Locks the attempts hash (forgetting its counts) unless it is locked; 1 when this call locked it. */
  pgwLockAttempts: {
    numberOfKeys: 1,
    lua: `if tonumber(redis.call('HGET', KEYS[1], 'lock') or '0') > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'lock', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`,
  },
  /** ARGV: field, expected, next. Compare-and-set of one hash field; 1 when replaced. */
  pgwHashCompareAndSet: {
    numberOfKeys: 1,
    lua: `if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`,
  },
  /**
   * ARGV: at, amount, windowMs, buckets, ttlMs. A hash of buckets: c<n> sum, f<n> first time of
   * bucket n (n = floor(at / (windowMs / buckets))), l the last time. Buckets that left the window
   * are deleted. Returns {total, first, last} as strings (exact beyond Lua's integer replies).
   */
  pgwWindowAdd: {
    numberOfKeys: 1,
    lua: `local at = tonumber(ARGV[1])
local size = tonumber(ARGV[3]) / tonumber(ARGV[4])
local b = math.floor(at / size)
local oldest = b - tonumber(ARGV[4]) + 1
redis.call('HINCRBY', KEYS[1], 'c' .. b, ARGV[2])
redis.call('HSETNX', KEYS[1], 'f' .. b, ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'l') or '0')
if at > last then last = at; redis.call('HSET', KEYS[1], 'l', ARGV[1]) end
local all = redis.call('HGETALL', KEYS[1])
local total = 0
local first = nil
for i = 1, #all, 2 do
  local kind = string.sub(all[i], 1, 1)
  if kind == 'c' or kind == 'f' then
    local n = tonumber(string.sub(all[i], 2))
    if n < oldest then redis.call('HDEL', KEYS[1], all[i])
    elseif kind == 'c' then total = total + tonumber(all[i + 1])
    else
      local f = tonumber(all[i + 1])
      if first == nil or f < first then first = f end
    end
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {string.format('%.0f', total), string.format('%.0f', first or at), string.format('%.0f', last)}`,
  },
  /**
   * ARGV: at, windowMs, cap, ttlMs, member…. A sorted set of members scored by when last seen:
   * those not seen within the window are removed, the members added (a later time wins), the
   * oldest dropped beyond `cap`. Returns {count, first, last}.
   */
  pgwWindowDistinct: {
    numberOfKeys: 1,
    lua: `local at = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', at - tonumber(ARGV[2])))
for i = 5, #ARGV do redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[i]) end
local n = redis.call('ZCARD', KEYS[1])
local cap = tonumber(ARGV[3])
if n > cap then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1); n = cap end
local lo = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local hi = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {tostring(n), lo[2] or ARGV[1], hi[2] or ARGV[1]}`,
  },
  /**
   * ARGV: member, at, horizonMs, cap. A sorted set scored by last-seen time. Returns
   * {previous or false, others within the horizon}; then marks the member seen at `at`.
   */
  pgwMarkSeen: {
    numberOfKeys: 1,
    lua: `local at = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', at - horizon))
local prev = redis.call('ZSCORE', KEYS[1], ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
local others = n
if prev then others = n - 1 end
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
local cap = tonumber(ARGV[4])
n = redis.call('ZCARD', KEYS[1])
if n > cap then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {prev or false, tostring(others)}`,
  },
} as const);

/** The commands `defineCommand` adds to the client, as the store calls them. */
export interface ScriptCommands {
  pgwPutRecord(key: string, json: string, ttlMs: number): Promise<unknown>;
  pgwTouchRecord(key: string, now: number, ttlMs: number): Promise<[string, string | null] | null>;
  pgwIncrement(key: string, ttlMs: number): Promise<number>;
  pgwSetIfGreater(key: string, value: string, ttlMs: number): Promise<number>;
  pgwHashCompareAndSet(key: string, field: string, expected: string, next: string): Promise<number>;
  pgwReserveAttempt(key: string, now: string, current: string, previous: string, limit: number, until: string, ttlMs: number, lockMs: number): Promise<[number, string, number]>;
  pgwReleaseAttempt(key: string, field: string): Promise<number>;
  pgwLockAttempts(key: string, now: string, until: string, ttlMs: number): Promise<number>;
  pgwWindowAdd(key: string, at: number, amount: number, windowMs: number, buckets: number, ttlMs: number): Promise<[string, string, string]>;
  pgwWindowDistinct(key: string, at: number, windowMs: number, cap: number, ttlMs: number, ...members: string[]): Promise<[string, string, string]>;
  pgwMarkSeen(key: string, member: string, at: number, horizonMs: number, cap: number): Promise<[string | null, string]>;
}
