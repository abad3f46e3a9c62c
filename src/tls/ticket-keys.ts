// TLS session-ticket keys the gateway controls: one per period, rotated on a timer, shared by replicas through the state store.
//
// A ticket (RFC 5077, RFC 8446 §4.6.1) is the session state encrypted under the server's ticket
// key; a client that shows it back skips the certificate exchange and the signature. node holds
// one ticket key per secure context (server.setTicketKeys, 48 bytes): tickets encrypted under an
// earlier key are not decrypted, the client makes one full handshake and gets a new ticket. So the
// key for period N is made before period N begins, and every replica switches at the same time.
// Keys are secrets: kept in the store under a TTL of three periods, encrypted (AES-256-GCM) under a key
// derived from session.signingKey, never logged. Whoever holds a ticket key can mint a ticket for any
// client certificate they have seen (certificates are public) and resume as that device without its
// private key, so read access to the store alone must not give the ticket keys away.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Logger } from '../audit/logger.js';
import type { StateStore } from '../state/store.js';

/** node's ticket key: 16 bytes key name, 16 bytes HMAC secret, 16 bytes AES key. */
export const TICKET_KEY_BYTES = 48;
const KEY_PREFIX = 'tls:ticket-key:';
/** How often a replica waits for the replica that claimed a period to write its key. */
const CLAIM_WAIT_MS = 100;
const CLAIM_TRIES = 20;

interface StoredKey { readonly k: string }

/** The key that wraps ticket keys in the store: HKDF-SHA256 of the replicas' shared secret (session.signingKey). */
export function ticketWrapKey(secret: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'pacs-gateway tls ticket keys v1', 32));
}

function wrap(key: Buffer, wrapKey: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', wrapKey, iv);
  const ct = Buffer.concat([c.update(key), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64');
}

/** The ticket key, or undefined when the record was not wrapped with this key (another secret, tampering). */
function unwrap(stored: string, wrapKey: Buffer): Buffer | undefined {
  const b = Buffer.from(stored, 'base64');
  if (b.length !== 12 + TICKET_KEY_BYTES + 16) return undefined;
  try {
    const d = createDecipheriv('aes-256-gcm', wrapKey, b.subarray(0, 12));
    d.setAuthTag(b.subarray(12 + TICKET_KEY_BYTES));
    return Buffer.concat([d.update(b.subarray(12, 12 + TICKET_KEY_BYTES)), d.final()]);
  } catch {
    return undefined;
  }
}

export interface TicketKeyOptions {
  readonly store: StateStore;
  /** Wraps the keys in the store (ticketWrapKey of session.signingKey): the same on every replica. */
  readonly wrapKey: Buffer;
  /** Length of a period: a key serves new tickets for this long, and tickets live at most this long. */
  readonly periodMs: number;
  readonly clock?: () => number;
  readonly logger: Logger;
  /** Hands a key to the listeners (server.setTicketKeys on each). */
  readonly apply: (key: Buffer) => void;
}

/**
 * Gets (or makes) the key of `period`: the first replica to claim the period (an atomic counter)
 * writes a random key, the others read it. A replica that cannot reach the store, or does not see
 * the claimed key in time, makes a key of its own: resumption then works on that replica only.
 */
export async function periodKey(store: StateStore, period: number, periodMs: number, wrapKey: Buffer): Promise<Buffer> {
  const key = `${KEY_PREFIX}${period}`;
  const ttl = 3 * periodMs;
  const read = async (): Promise<Buffer | undefined> => {
    const r = await store.getRecord<StoredKey>(key);
    if (r === null) return undefined;
    const k = unwrap(r.k, wrapKey);
    if (k === undefined) throw new Error(`the ticket key for period ${period} in the store is not readable with this replica's session.signingKey`);
    return k;
  };
  const found = await read();
  if (found !== undefined) return found;
  if (await store.increment(`${key}:claim`, ttl) === 1) {
    const made = randomBytes(TICKET_KEY_BYTES);
    await store.putRecord(key, { k: wrap(made, wrapKey) } satisfies StoredKey, ttl);
    return made;
  }
  for (let i = 0; i < CLAIM_TRIES; i++) {
    await new Promise((r) => setTimeout(r, CLAIM_WAIT_MS));
    const k = await read();
    if (k !== undefined) return k;
  }
  throw new Error(`no ticket key for period ${period} was written by the replica that claimed it`);
}

/** Keeps the listeners on the current period's key; rotates at each period boundary. */
export class TicketKeyRotation {
  readonly #o: TicketKeyOptions;
  readonly #clock: () => number;
  #current: Buffer | undefined;
  #period = -1;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: TicketKeyOptions) {
    this.#o = o;
    this.#clock = o.clock ?? Date.now;
  }

  /** Applies the current period's key; resolves once it is in force (or a local fallback is). */
  async start(): Promise<void> {
    await this.#tick();
  }

  /** Applies the key in force again (after setSecureContext, which gives a context new random keys). */
  reapply(): void {
    if (this.#current !== undefined) this.#o.apply(this.#current);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #tick(): Promise<void> {
    const { periodMs, store, logger } = this.#o;
    const now = this.#clock();
    const period = Math.floor(now / periodMs);
    if (period !== this.#period) {
      let key: Buffer;
      let shared = true;
      try {
        key = await periodKey(store, period, periodMs, this.#o.wrapKey);
      } catch (err) {
        // Fail soft: resumption is a speed-up, never an identity; a local key keeps it on this replica.
        key = randomBytes(TICKET_KEY_BYTES);
        shared = false;
        logger.warn({ err: { message: (err as Error).message }, period }, 'TLS ticket key not shared through the state store: resumption works on this replica only until the next period');
      }
      if (this.#stopped) return;
      this.#current = key;
      this.#period = shared ? period : -1; // a local key is retried at the next tick
      this.#o.apply(key);
      logger.info({ period, shared, validUntil: new Date((period + 1) * periodMs).toISOString() }, 'TLS ticket key in force');
    }
    // Make the next period's key ahead of time, so every replica finds it at the boundary.
    void periodKey(store, period + 1, periodMs, this.#o.wrapKey).catch(() => undefined);
    if (this.#stopped) return;
    const untilNext = (period + 1) * periodMs - this.#clock();
    this.#timer = setTimeout(() => { void this.#tick(); }, Math.max(1000, Math.min(untilNext, this.#period === -1 ? 60_000 : untilNext)));
    this.#timer.unref();
  }
}
