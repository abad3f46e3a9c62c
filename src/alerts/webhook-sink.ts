// Alert webhooks: each alert as a signed JSON POST, retried with backoff from a bounded queue; never in traffic's way.
//
// Signature (README "Monitoring and alerts"): X-Pacs-Gateway-Signature: t=<unix seconds>,v1=<hex>,
// where hex = HMAC-SHA256(secret, `${t}.${body}`). X-Pacs-Gateway-Delivery is the alert's id, the
// same on every retry, so a receiver can drop duplicates.

import { createHmac, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AlertName, Audit } from '../audit/audit.js';
import type { WebhookOptions } from '../config/types.js';

export const SIGNATURE_HEADER = 'x-pacs-gateway-signature';
export const DELIVERY_HEADER = 'x-pacs-gateway-delivery';

const DEFAULT_QUEUE = 1000;
const DEFAULT_TIMEOUT_MS = 5000;
/** Attempts per alert before it is dropped (and counted). */
const MAX_ATTEMPTS = 6;
/** A `sink.dropping` alert at most this often per webhook. */
const DROP_ALERT_INTERVAL_MS = 60_000;

export interface WebhookStats { delivered: number; failedAttempts: number; dropped: number; queued: number }

interface Delivery { readonly id: string; readonly body: string; attempts: number }

/** The signature header value for `body` at unix time `t`. */
export function webhookSignature(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

export class WebhookSink {
  readonly stats: WebhookStats = { delivered: 0, failedAttempts: 0, dropped: 0, queued: 0 };
  readonly #o: WebhookOptions;
  readonly #audit: Audit;
  readonly #log: Logger;
  readonly #index: number;
  readonly #retryBaseMs: number;
  readonly #queue: Delivery[] = [];
  #busy = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #lastDropAlert = Number.NEGATIVE_INFINITY;
  #unsubscribe: (() => void) | undefined;

  constructor(o: WebhookOptions, index: number, deps: { audit: Audit; logger: Logger; retryBaseMs?: number }) {
    this.#o = o;
    this.#index = index;
    this.#audit = deps.audit;
    this.#log = deps.logger.child({ component: 'webhook', webhook: index });
    this.#retryBaseMs = deps.retryBaseMs ?? 1000;
  }

  /** Where it posts, without credentials (logs). */
  get target(): string {
    const u = new URL(this.#o.url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  }

  start(): void {
    this.#unsubscribe = this.#audit.subscribe({ alert: (name, detail, at) => { this.enqueue(name, detail, at); } });
  }

  enqueue(name: AlertName, detail: Readonly<Record<string, unknown>>, at: number): void {
    if (this.#closed) return;
    if (this.#queue.length >= (this.#o.queueSize ?? DEFAULT_QUEUE)) {
      this.#drop(1, 'queue full');
      return;
    }
    const id = randomUUID();
    const body = JSON.stringify({ id, time: new Date(at).toISOString(), gateway: hostname(), alert: { name, ...detail } });
    this.#queue.push({ id, body, attempts: 0 });
    this.stats.queued = this.#queue.length;
    this.#next();
  }

  #drop(n: number, why: string): void {
    this.stats.dropped += n;
    const now = Date.now();
    if (now - this.#lastDropAlert < DROP_ALERT_INTERVAL_MS) return;
    this.#lastDropAlert = now;
    this.#audit.alert('sink.dropping', { sink: 'webhook', webhook: this.#index, target: this.target, reason: why, droppedTotal: this.stats.dropped });
  }

  #next(): void {
    if (this.#busy || this.#closed || this.#timer !== undefined) return;
    const d = this.#queue[0];
    if (d === undefined) return;
    this.#busy = true;
    void this.#post(d).then((ok) => {
      this.#busy = false;
      if (ok) {
        this.#queue.shift();
        this.stats.delivered++;
      } else if (++d.attempts >= MAX_ATTEMPTS) {
        this.#queue.shift();
        this.#drop(1, `no answer after ${MAX_ATTEMPTS} attempts`);
      } else {
        // Exponential backoff: 1, 2, 4, 8, 16 s (by default) before the next attempt; the queue waits behind it.
        this.#timer = setTimeout(() => { this.#timer = undefined; this.#next(); }, this.#retryBaseMs * 2 ** (d.attempts - 1));
        this.#timer.unref();
      }
      this.stats.queued = this.#queue.length;
      this.#next();
    });
  }

  async #post(d: Delivery): Promise<boolean> {
    const t = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(this.#o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: webhookSignature(this.#o.secret, t, d.body), [DELIVERY_HEADER]: d.id },
        body: d.body,
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? DEFAULT_TIMEOUT_MS),
        redirect: 'error',
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return true;
      this.stats.failedAttempts++;
      this.#log.warn({ status: res.status, target: this.target, attempt: d.attempts + 1 }, 'alert webhook refused the alert; retrying');
      return false;
    } catch (err) {
      this.stats.failedAttempts++;
      this.#log.warn({ err: { message: (err as Error).message }, target: this.target, attempt: d.attempts + 1 }, 'alert webhook unreachable; retrying');
      return false;
    }
  }

  /** Stops; what is still queued is dropped (and counted). */
  close(): void {
    this.#unsubscribe?.();
    this.#closed = true;
    clearTimeout(this.#timer);
    const left = this.#queue.length;
    this.#queue.length = 0;
    this.stats.queued = 0;
    if (left > 0) this.stats.dropped += left;
  }
}
