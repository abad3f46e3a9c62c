// Ticket keys per period (src/tls/ticket-keys.ts): replicas racing for a period agree on one key; periods differ;
// a store that cannot be reached leaves the replica with a key of its own; rotation hands the listeners the new key.

import t from 'tap';
import pino from 'pino';
import { MemoryStore } from '../../src/state/memory-store.js';
import { periodKey as periodKeyWith, TicketKeyRotation, TICKET_KEY_BYTES, ticketWrapKey } from '../../src/tls/ticket-keys.js';
import type { StateStore } from '../../src/state/store.js';

const HOUR = 3_600_000;
const silent = pino({ level: 'silent' });
const wrapKey = ticketWrapKey(Buffer.from('the replicas\' shared session.signingKey, 32+ chars'));
const periodKey = (store: StateStore, period: number, periodMs: number): Promise<Buffer> => periodKeyWith(store, period, periodMs, wrapKey);

t.test('replicas racing for the same period get the same key; the next period another', async (t) => {
  const store = new MemoryStore();
  t.teardown(() => store.close());
  const keys = await Promise.all(Array.from({ length: 8 }, () => periodKey(store, 100, HOUR)));
  t.equal(keys[0]?.length, TICKET_KEY_BYTES);
  t.ok(keys.every((k) => k.equals(keys[0] as Buffer)), 'one key for all');
  const next = await periodKey(store, 101, HOUR);
  t.notOk(next.equals(keys[0] as Buffer), 'a new key for the next period');
  t.ok((await periodKey(store, 100, HOUR)).equals(keys[0] as Buffer), 'stable when asked again');
});

t.test('the store holds the key wrapped: not readable without the replicas\' secret, and a replica with another secret does not use it', async (t) => {
  const store = new MemoryStore();
  t.teardown(() => store.close());
  const key = await periodKey(store, 5, HOUR);
  const rec = await store.getRecord<{ k: string }>('tls:ticket-key:5');
  const stored = Buffer.from(rec?.k ?? '', 'base64');
  t.notOk(stored.includes(key), 'the raw key is not in the store');
  t.notOk(stored.includes(key.subarray(0, 16)), 'nor its name');
  await t.rejects(periodKeyWith(store, 5, HOUR, ticketWrapKey(Buffer.from('another deployment\'s signing key, 32+ chars'))), /not readable with this replica's session\.signingKey/);
});

t.test('two stores (two deployments) never share a key', async (t) => {
  const a = new MemoryStore();
  const b = new MemoryStore();
  t.teardown(async () => { await a.close(); await b.close(); });
  t.notOk((await periodKey(a, 7, HOUR)).equals(await periodKey(b, 7, HOUR)));
});

t.test('rotation: the listeners get the period\'s key at start, and the new one when the period changes', async (t) => {
  const store = new MemoryStore();
  t.teardown(() => store.close());
  let now = 10 * HOUR + 1000;
  const applied: Buffer[] = [];
  const r = new TicketKeyRotation({ store, wrapKey, periodMs: HOUR, clock: () => now, logger: silent, apply: (k) => applied.push(k) });
  t.teardown(() => r.stop());
  await r.start();
  t.equal(applied.length, 1);
  t.ok(applied[0]?.equals(await periodKey(store, 10, HOUR)), 'the current period\'s shared key');
  r.reapply();
  t.equal(applied.length, 2, 'reapply hands the same key again (after setSecureContext)');
  t.ok(applied[1]?.equals(applied[0] as Buffer));
  now = 11 * HOUR + 5;
  await (r as unknown as { start(): Promise<void> }).start();
  t.ok(applied.at(-1)?.equals(await periodKey(store, 11, HOUR)), 'the next period\'s key, which was made ahead');
});

t.test('a store that cannot be reached: a local key, logged without the key, never thrown', async (t) => {
  const down = {
    getRecord: async () => { throw new Error('ERR_STORE_UNAVAILABLE'); },
    increment: async () => { throw new Error('ERR_STORE_UNAVAILABLE'); },
    putRecord: async () => { throw new Error('ERR_STORE_UNAVAILABLE'); },
  } as unknown as StateStore;
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => { lines.push(l); } });
  const applied: Buffer[] = [];
  const r = new TicketKeyRotation({ store: down, wrapKey, periodMs: HOUR, logger, apply: (k) => applied.push(k) });
  t.teardown(() => r.stop());
  await r.start();
  t.equal(applied.length, 1, 'a key is applied all the same');
  t.match(lines.join(''), /not shared through the state store/);
  const key = applied[0] as Buffer;
  t.notOk(lines.some((l) => l.includes(key.toString('base64')) || l.includes(key.toString('hex'))), 'the key is not logged');
});
