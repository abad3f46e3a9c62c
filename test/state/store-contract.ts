// The StateStore contract: one suite every implementation (memory, Redis) must pass unchanged.

import type { Test } from 'tap';
import type { StateStore } from '../../src/state/store.js';

/** Moves time forward for the store's expiry: a manual clock for memory, real sleep for Redis. */
export interface ContractClock {
  advance(ms: number): Promise<void>;
}

export const realTime: ContractClock = { advance: (ms) => new Promise((r) => setTimeout(r, ms)) };

/** Polls `check` until it is true or `ms` pass (pub/sub delivery is asynchronous on Redis). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const LONG = 60_000;

/**
 * Runs the contract. `makeStore` is called once per subtest and the store is closed after it.
 * TTLs that must expire are short (≤ 300 ms) and checked well after they pass; values that
 * must survive get long TTLs, so a slow machine cannot make a correct store fail.
 */
export async function storeContract(t: Test, makeStore: () => StateStore | Promise<StateStore>, clock: ContractClock = realTime): Promise<void> {
  const withStore = (name: string, fn: (t: Test, s: StateStore) => Promise<void>): Promise<unknown> =>
    t.test(name, async (t) => {
      const s = await makeStore();
      t.teardown(() => s.close());
      await fn(t, s);
    });

  await withStore('is reachable', async (t, s) => {
    t.ok(s.kind === 'memory' || s.kind === 'redis');
    await t.resolves(s.ping());
    t.equal(s.isAvailable(), true);
  });

  await withStore('records round-trip as JSON and can be replaced', async (t, s) => {
    t.equal(await s.getRecord('rec:missing'), null);
    const value = { sid: 'abc', n: 2 ** 53 - 1, f: 0.1, empty: [], nested: { a: [1, { b: null }] }, text: 'Grüße ✓', lastSeen: 5 };
    await s.putRecord('rec:1', value, LONG);
    t.same(await s.getRecord('rec:1'), value);
    await s.putRecord('rec:1', { other: true }, LONG);
    t.same(await s.getRecord('rec:1'), { other: true }, 'a put replaces the whole record');
    await s.putRecord('rec:2', { lastSeen: 1 }, LONG);
    await s.touchRecord('rec:2', 99, LONG);
    await s.putRecord('rec:2', { lastSeen: 7 }, LONG);
    t.same(await s.getRecord('rec:2'), { lastSeen: 7 }, 'a put after a touch keeps no stale lastSeen');
  });

  await withStore('deleteRecord says whether something was deleted, for records and counters', async (t, s) => {
    await s.putRecord('del:1', { x: 1 }, LONG);
    t.equal(await s.deleteRecord('del:1'), true);
    t.equal(await s.deleteRecord('del:1'), false);
    t.equal(await s.getRecord('del:1'), null);
    await s.increment('del:counter', LONG);
    t.equal(await s.deleteRecord('del:counter'), true);
    t.equal(await s.getNumber('del:counter'), 0);
  });

  await withStore('records expire after their TTL', async (t, s) => {
    await s.putRecord('exp:rec', { a: 1 }, 150);
    await s.putRecord('exp:keep', { a: 2 }, LONG);
    await clock.advance(400);
    t.equal(await s.getRecord('exp:rec'), null);
    t.same(await s.getRecord('exp:keep'), { a: 2 });
    t.equal(await s.deleteRecord('exp:rec'), false, 'an expired record is not deleted again');
  });

  await withStore('touchRecord returns the record before the touch and sets lastSeen and TTL', async (t, s) => {
    t.equal(await s.touchRecord('touch:missing', 1, LONG), null);
    t.equal(await s.getRecord('touch:missing'), null, 'touching nothing creates nothing');
    await s.putRecord('touch:1', { user: 'alice', lastSeen: 100, roles: [] }, 300);
    const before = await s.touchRecord<{ user: string; lastSeen: number }>('touch:1', 200, LONG);
    t.same(before, { user: 'alice', lastSeen: 100, roles: [] });
    t.same(await s.getRecord('touch:1'), { user: 'alice', lastSeen: 200, roles: [] });
    t.same(await s.touchRecord('touch:1', 300, LONG), { user: 'alice', lastSeen: 200, roles: [] });
    await clock.advance(450);
    t.same(await s.getRecord('touch:1'), { user: 'alice', lastSeen: 300, roles: [] }, 'the touch extended the TTL');
    await s.touchRecord('touch:1', 400, 100);
    await clock.advance(350);
    t.equal(await s.getRecord('touch:1'), null, 'and a shorter touch TTL shortens it');
  });

  await withStore('increment counts from 1 and sets the TTL only on creation', async (t, s) => {
    t.equal(await s.increment('inc:1', 500), 1);
    t.equal(await s.increment('inc:1', 500), 2);
    await clock.advance(100);
    t.equal(await s.increment('inc:1', 500), 3);
    t.equal(await s.getNumber('inc:1'), 3);
    await clock.advance(450);
    t.equal(await s.getNumber('inc:1'), 0, 'expired 500 ms after creation, not after the last increment');
    t.equal(await s.increment('inc:1', LONG), 1, 'and starts again');
  });

  await withStore('increment is atomic: 100 concurrent increments count 100', async (t, s) => {
    const results = await Promise.all(Array.from({ length: 100 }, () => s.increment('inc:race', LONG)));
    t.equal(await s.getNumber('inc:race'), 100);
    t.same([...results].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 1), 'each caller saw a distinct count');
  });

  await withStore('setIfGreater stores only larger values', async (t, s) => {
    t.equal(await s.setIfGreater('sig:1', 10, LONG), true);
    t.equal(await s.setIfGreater('sig:1', 10, LONG), false, 'equal is refused (TOTP replay)');
    t.equal(await s.setIfGreater('sig:1', 9, LONG), false);
    t.equal(await s.getNumber('sig:1'), 10);
    t.equal(await s.setIfGreater('sig:1', 11, LONG), true);
    t.equal(await s.getNumber('sig:1'), 11);
    t.equal(await s.setIfGreater('sig:big', 1_700_000_000_123, LONG), true);
    t.equal(await s.setIfGreater('sig:big', 1_700_000_000_122, LONG), false);
    t.equal(await s.getNumber('sig:big'), 1_700_000_000_123);
  });

  await withStore('setIfGreater is atomic: one of many concurrent equal values wins', async (t, s) => {
    const results = await Promise.all(Array.from({ length: 50 }, () => s.setIfGreater('sig:race', 56_666_666, LONG)));
    t.equal(results.filter(Boolean).length, 1);
  });

  await withStore('setIfGreater marks expire', async (t, s) => {
    await s.setIfGreater('sig:exp', 5, 150);
    await clock.advance(400);
    t.equal(await s.getNumber('sig:exp'), 0);
    t.equal(await s.setIfGreater('sig:exp', 1, LONG), true);
  });

  await withStore('getNumber/setNumber', async (t, s) => {
    t.equal(await s.getNumber('num:missing'), 0);
    await s.setNumber('num:1', 1_700_000_000_000, LONG);
    t.equal(await s.getNumber('num:1'), 1_700_000_000_000);
    await s.setNumber('num:1', 2.5, LONG);
    t.equal(await s.getNumber('num:1'), 2.5);
    await s.setNumber('num:2', -3, 150);
    t.equal(await s.getNumber('num:2'), -3);
    await clock.advance(400);
    t.equal(await s.getNumber('num:2'), 0, 'expired');
  });

  await withStore('swap returns the previous value and stores the new one', async (t, s) => {
    t.equal(await s.swap('swap:1', 'a', LONG), null);
    t.equal(await s.swap('swap:1', 'b', LONG), 'a');
    t.equal(await s.swap('swap:1', 'ünïcode ✓', 150), 'b');
    t.equal(await s.swap('swap:1', 'c', 150), 'ünïcode ✓');
    await clock.advance(400);
    t.equal(await s.swap('swap:1', 'd', LONG), null, 'the value expired');
  });

  await withStore('swap is atomic: concurrent swaps form one chain', async (t, s) => {
    const values = Array.from({ length: 30 }, (_, i) => `v${i}`);
    const previous = await Promise.all(values.map((v) => s.swap('swap:race', v, LONG)));
    const last = await s.swap('swap:race', 'end', LONG);
    t.equal(previous.filter((p) => p === null).length, 1, 'exactly one swap found nothing');
    t.same([...previous.filter((p) => p !== null), last].sort(), [...values].sort(), 'every value was returned exactly once');
  });

  // Attempts (login lockouts): times are the caller's, so these need no clock; a bucket is one minute.
  const W = 60_000;
  const MID = 28_333_333 * W + W / 2; // the middle of a bucket
  const window = (now: number, limit = 3) => ({ now, windowMs: W, limit, lockMs: 30_000 });

  await withStore('reserveAttempt counts up to the limit, then locks and refuses until the lock ends', async (t, s) => {
    for (let i = 1; i <= 3; i++) t.same(await s.reserveAttempt('att:1', window(MID)), { granted: true, count: i });
    t.same(await s.reserveAttempt('att:1', window(MID + 1)), { granted: false, lockedUntil: MID + 1 + 30_000, newlyLocked: true }, 'the fourth locks');
    t.same(await s.reserveAttempt('att:1', window(MID + 2)), { granted: false, lockedUntil: MID + 1 + 30_000, newlyLocked: false }, 'and stays locked');
    t.same(await s.reserveAttempt('att:1', window(MID + 30_002)), { granted: true, count: 1 }, 'after the lock the count starts again');
    t.same(await s.reserveAttempt('att:other', window(MID)), { granted: true, count: 1 }, 'keys are independent');
  });

  await withStore('reserveAttempt counts span the bucket of now and the one before, no further', async (t, s) => {
    const end = MID + W / 2 - 1000; // one second before a bucket boundary
    const w5 = (now: number) => window(now, 5);
    t.same(await s.reserveAttempt('att:span', w5(end)), { granted: true, count: 1 });
    t.same(await s.reserveAttempt('att:span', w5(end)), { granted: true, count: 2 });
    t.same(await s.reserveAttempt('att:span', w5(end + 2000)), { granted: true, count: 3 }, 'the bucket before still counts');
    t.same(await s.reserveAttempt('att:span', w5(end + 2000 + W)), { granted: true, count: 2 }, 'two buckets on, the first is forgotten');
  });

  await withStore('releaseAttempt gives one attempt back, never below zero', async (t, s) => {
    await s.reserveAttempt('att:rel', window(MID));
    await s.reserveAttempt('att:rel', window(MID));
    await s.releaseAttempt('att:rel', MID, W);
    t.same(await s.reserveAttempt('att:rel', window(MID)), { granted: true, count: 2 });
    for (let i = 0; i < 5; i++) await s.releaseAttempt('att:rel', MID, W);
    await s.releaseAttempt('att:none', MID, W);
    t.same(await s.reserveAttempt('att:rel', window(MID)), { granted: true, count: 1 });
    t.same(await s.reserveAttempt('att:none', window(MID)), { granted: true, count: 1 }, 'releasing nothing creates no debt');
  });

  await withStore('lockAttempts locks once; deleteRecord clears counts and lock', async (t, s) => {
    await s.reserveAttempt('att:lock', window(MID));
    t.equal(await s.lockAttempts('att:lock', MID, MID + 5000), true);
    t.equal(await s.lockAttempts('att:lock', MID + 1, MID + 6000), false, 'already locked');
    t.same(await s.reserveAttempt('att:lock', window(MID + 2)), { granted: false, lockedUntil: MID + 5000, newlyLocked: false });
    t.same(await s.reserveAttempt('att:lock', window(MID + 5001)), { granted: true, count: 1 }, 'the lock forgot the earlier count');
    t.equal(await s.lockAttempts('att:lock', MID + 5002, MID + 9000), true);
    t.equal(await s.deleteRecord('att:lock'), true);
    t.same(await s.reserveAttempt('att:lock', window(MID + 5003)), { granted: true, count: 1 }, 'deleted: neither lock nor count');
  });

  await withStore('reserveAttempt is atomic: of 100 concurrent attempts exactly `limit` are granted, one locks', async (t, s) => {
    const results = await Promise.all(Array.from({ length: 100 }, () => s.reserveAttempt('att:race', window(MID, 10))));
    const granted = results.filter((r) => r.granted);
    t.same(granted.map((r) => (r.granted ? r.count : 0)).sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i + 1));
    t.equal(results.filter((r) => !r.granted && r.newlyLocked).length, 1);
  });

  await withStore('keys are independent', async (t, s) => {
    await s.putRecord('ind:a', { a: 1 }, LONG);
    await s.setNumber('ind:b', 4, LONG);
    t.equal(await s.getRecord('ind:b2'), null);
    t.equal(await s.getNumber('ind:a2'), 0);
    t.same(await s.getRecord('ind:a'), { a: 1 });
    t.equal(await s.getNumber('ind:b'), 4);
  });

  await withStore('publish reaches every subscriber of that channel only', async (t, s) => {
    const a: string[] = [];
    const b: string[] = [];
    const other: string[] = [];
    await s.subscribe('chan:users', (m) => a.push(m));
    await s.subscribe('chan:users', (m) => b.push(m));
    await s.subscribe('chan:devices', (m) => other.push(m));
    const message = JSON.stringify(['alice', 'bøb']);
    await s.publish('chan:users', message);
    await s.publish('chan:users', 'second');
    t.ok(await eventually(() => a.length === 2 && b.length === 2), 'both listeners got both messages');
    t.same(a, [message, 'second']);
    t.same(b, [message, 'second']);
    t.same(other, []);
  });

  // Sliding windows take the caller's time (`at`): these hold on a store whose own clock is elsewhere.
  const T0 = 1_800_000_000_000;
  const MINUTE = 60_000;

  await withStore('windowAdd sums amounts within a sliding window and names its first and last event', async (t, s) => {
    t.same(await s.windowAdd('win:sum', T0, 3, 10 * MINUTE), { total: 3, first: T0, last: T0 });
    t.same(await s.windowAdd('win:sum', T0 + MINUTE, 4, 10 * MINUTE), { total: 7, first: T0, last: T0 + MINUTE });
    t.same(await s.windowAdd('win:sum', T0 + 9 * MINUTE, 1_000_000_000_000, 10 * MINUTE), { total: 1_000_000_000_007, first: T0, last: T0 + 9 * MINUTE }, 'byte counts beyond 32 bits stay exact');
    const slid = await s.windowAdd('win:sum', T0 + 10 * MINUTE + 1, 1, 10 * MINUTE);
    t.same(slid, { total: 1_000_000_000_005, first: T0 + MINUTE, last: T0 + 10 * MINUTE + 1 }, 'the first bucket left the window');
    t.same(await s.windowAdd('win:sum', T0 + 40 * MINUTE, 2, 10 * MINUTE), { total: 2, first: T0 + 40 * MINUTE, last: T0 + 40 * MINUTE }, 'after a quiet window only the new amount counts');
    t.same(await s.windowAdd('win:other', T0, 1, 10 * MINUTE), { total: 1, first: T0, last: T0 }, 'keys are independent');
  });

  await withStore('windowAdd is atomic: concurrent additions all count', async (t, s) => {
    await Promise.all(Array.from({ length: 60 }, (_, i) => s.windowAdd('win:race', T0 + i, 2, MINUTE)));
    t.equal((await s.windowAdd('win:race', T0 + 100, 0, MINUTE)).total, 120);
  });

  await withStore('windowAddDistinct counts each member once within the window', async (t, s) => {
    t.same(await s.windowAddDistinct('wd:1', T0, ['a', 'b', 'a'], 10 * MINUTE, 100), { total: 2, first: T0, last: T0 });
    t.same(await s.windowAddDistinct('wd:1', T0 + MINUTE, ['b', 'c'], 10 * MINUTE, 100), { total: 3, first: T0, last: T0 + MINUTE }, 'b again is not new');
    t.same(await s.windowAddDistinct('wd:1', T0 + 10 * MINUTE + 1, [], 10 * MINUTE, 100), { total: 2, first: T0 + MINUTE, last: T0 + MINUTE }, 'a left the window; b was seen later');
    t.equal((await s.windowAddDistinct('wd:1', T0 + 30 * MINUTE, ['z'], 10 * MINUTE, 100)).total, 1);
  });

  await withStore('windowAddDistinct keeps at most cap members, forgetting the least recently seen', async (t, s) => {
    const many = Array.from({ length: 50 }, (_, i) => `m${i}`);
    t.equal((await s.windowAddDistinct('wd:cap', T0, many, MINUTE, 20)).total, 20);
    t.equal((await s.windowAddDistinct('wd:cap', T0 + 1, ['new'], MINUTE, 20)).total, 20);
  });

  await withStore('windowAddDistinct is atomic: members added concurrently all count', async (t, s) => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => s.windowAddDistinct('wd:race', T0 + i, [`p${i}`, 'shared'], MINUTE, 1000)));
    t.equal((await s.windowAddDistinct('wd:race', T0 + 50, [], MINUTE, 1000)).total, 41);
  });

  await withStore('markSeen says when a member was last seen within the horizon, and how many others were', async (t, s) => {
    const DAY = 86_400_000;
    t.same(await s.markSeen('seen:alice', '10.1.2.0/24', T0, 30 * DAY, 100), { previous: null, others: 0 });
    t.same(await s.markSeen('seen:alice', '10.1.2.0/24', T0 + DAY, 30 * DAY, 100), { previous: T0, others: 0 });
    t.same(await s.markSeen('seen:alice', '192.0.2.0/24', T0 + 2 * DAY, 30 * DAY, 100), { previous: null, others: 1 });
    t.same(await s.markSeen('seen:alice', '10.1.2.0/24', T0 + 40 * DAY, 30 * DAY, 100), { previous: null, others: 0 }, 'marks older than the horizon are forgotten');
    t.same(await s.markSeen('seen:bob', '10.1.2.0/24', T0, 30 * DAY, 100), { previous: null, others: 0 }, 'keys are independent');
  });

  await withStore('markSeen keeps at most cap members', async (t, s) => {
    for (let i = 0; i < 12; i++) await s.markSeen('seen:cap', `n${i}`, T0 + i, 86_400_000, 5);
    t.same(await s.markSeen('seen:cap', 'last', T0 + 100, 86_400_000, 5), { previous: null, others: 5 });
    t.same(await s.markSeen('seen:cap', 'n0', T0 + 101, 86_400_000, 5), { previous: null, others: 5 }, 'the least recently seen were forgotten');
  });
}
