// One ATNA destination: RFC 5425 syslog over mutual TLS, fed from a bounded memory queue; never blocks the caller.
//
// Delivery is at least once. RFC 5425 has no acknowledgement, so a frame counts as delivered only
// once the connection has stayed up CONFIRM_MS after it was written: when the receiver closes or
// fails (a restart), the frames written within that time are sent again, in order, on the next
// connection (a receiver may see a few twice; none is lost). While the receiver is away the queue
// holds up to queueSize frames (and MAX_QUEUE_BYTES); beyond that new frames are dropped and counted.

import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

export interface SyslogClientOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'servername'>;
  readonly queueSize: number;
  readonly logger: Logger;
  /** Told when frames are dropped (queue full). */
  readonly onDrop: (count: number, why: string) => void;
  /** A written frame is confirmed after the connection stayed up this long (default 2000 ms). */
  readonly confirmMs?: number;
  /** First reconnect delay, doubled up to MAX_RETRY_MS (default 250 ms). */
  readonly retryBaseMs?: number;
}

export const DEFAULT_SYSLOG_QUEUE = 20_000;
const MAX_QUEUE_BYTES = 64 * 1024 * 1024;
const MAX_RETRY_MS = 10_000;
/** Largest batch of frames handed to the socket in one write. */
const MAX_WRITE_BYTES = 256 * 1024;

interface Sent { readonly frame: Buffer; readonly at: number }

export class SyslogClient {
  readonly stats = { delivered: 0, dropped: 0, queued: 0 };
  readonly #o: SyslogClientOptions;
  readonly #log: Logger;
  #queue: Buffer[] = [];
  #head = 0;
  #bytes = 0;
  #sent: Sent[] = [];
  #socket: TLSSocket | undefined;
  #ready = false;
  #waitingDrain = false;
  #retryMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #confirmTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #lastError: string | undefined;

  constructor(o: SyslogClientOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'atna', destination: `${o.host}:${o.port}` });
    this.#retryMs = o.retryBaseMs ?? 250;
  }

  /** Why the last connection failed or ended, until one succeeds again (for a caller's warning). */
  get lastError(): string | undefined { return this.#lastError; }

  get #pending(): number { return this.#queue.length - this.#head + this.#sent.length; }

  /** Queues one frame; drops it (counted) when the queue is full. */
  send(frame: Buffer): void {
    if (this.#closed) return;
    if (this.#pending >= this.#o.queueSize || this.#bytes + frame.length > MAX_QUEUE_BYTES) {
      this.stats.dropped++;
      this.#o.onDrop(1, this.#ready ? 'queue full' : `queue full while the receiver is unreachable${this.#lastError === undefined ? '' : ` (${this.#lastError})`}`);
      return;
    }
    this.#queue.push(frame);
    this.#bytes += frame.length;
    this.stats.queued = this.#pending;
    // The frames of one event-loop turn leave in one write (one TLS record per batch, not per message).
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      setImmediate(this.#scheduledPump);
    }
  }

  #pumpScheduled = false;
  readonly #scheduledPump = (): void => {
    this.#pumpScheduled = false;
    this.#pump();
  };

  /** Resolves once every queued frame is written and confirmed, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#pending > 0 && Date.now() < deadline) {
      this.#confirm(Date.now(), true);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.#pending === 0;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#confirmTimer);
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  #connect(): void {
    if (this.#socket !== undefined || this.#retryTimer !== undefined || this.#closed) return;
    const s = connect({ host: this.#o.host, port: this.#o.port, ...this.#o.tls, minVersion: 'TLSv1.2' });
    this.#socket = s;
    s.setNoDelay(true);
    s.setKeepAlive(true, 30_000);
    s.once('secureConnect', () => {
      this.#ready = true;
      this.#retryMs = this.#o.retryBaseMs ?? 250;
      if (this.#lastError !== undefined) this.#log.info('ATNA receiver reachable again; sending the queued messages');
      this.#lastError = undefined;
      this.#pump();
    });
    s.on('data', () => undefined); // a receiver does not answer; anything it sends is ignored
    s.on('error', (err) => {
      if (this.#lastError !== err.message) this.#log.warn({ err: { message: err.message } }, 'ATNA receiver connection failed; messages wait in the queue');
      this.#lastError = err.message;
    });
    s.on('close', () => { this.#lost(s); });
    s.on('end', () => { s.destroy(); });
  }

  /** The connection ended: unconfirmed frames go back to the front of the queue; reconnect later. */
  #lost(s: TLSSocket): void {
    if (this.#socket !== s) return;
    this.#socket = undefined;
    this.#ready = false;
    this.#waitingDrain = false;
    if (this.#sent.length > 0) {
      const back = this.#sent.map((x) => x.frame);
      this.#sent = [];
      this.#queue = [...back, ...this.#queue.slice(this.#head)];
      this.#head = 0;
    }
    if (this.#closed) return;
    this.#lastError ??= 'the receiver closed the connection';
    if (this.#pending === 0) return; // reconnect when there is something to send
    this.#retryTimer = setTimeout(() => { this.#retryTimer = undefined; this.#connect(); }, this.#retryMs);
    this.#retryTimer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
  }

  #pump(): void {
    if (this.#closed) return;
    if (this.#socket === undefined) { if (this.#queue.length > this.#head) this.#connect(); return; }
    if (!this.#ready || this.#waitingDrain) return;
    const s = this.#socket;
    while (this.#queue.length > this.#head) {
      const batch: Buffer[] = [];
      let size = 0;
      const now = Date.now();
      while (this.#queue.length > this.#head && size < MAX_WRITE_BYTES) {
        const f = this.#queue[this.#head] as Buffer;
        this.#head++;
        batch.push(f);
        size += f.length;
        this.#sent.push({ frame: f, at: now });
      }
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) { this.#queue = this.#queue.slice(this.#head); this.#head = 0; }
      const ok = s.write(batch.length === 1 ? batch[0] as Buffer : Buffer.concat(batch, size));
      this.#armConfirm();
      if (!ok) {
        this.#waitingDrain = true;
        s.once('drain', () => { this.#waitingDrain = false; this.#pump(); });
        return;
      }
    }
  }

  #armConfirm(): void {
    if (this.#confirmTimer !== undefined) return;
    this.#confirmTimer = setInterval(() => { this.#confirm(Date.now(), false); }, 250);
    this.#confirmTimer.unref();
  }

  /** Frames written long enough ago on a connection that is still up are delivered. */
  #confirm(now: number, draining: boolean): void {
    const confirmMs = this.#o.confirmMs ?? 2000;
    if (this.#socket === undefined || !this.#ready) return;
    let n = 0;
    // On drain (stop), frames the socket has flushed while it stays up count as delivered after a shorter wait.
    const wait = draining ? Math.min(confirmMs, 200) : confirmMs;
    while (n < this.#sent.length && now - (this.#sent[n] as Sent).at >= wait && this.#socket.writableLength === 0) n++;
    if (n === 0) return;
    for (const x of this.#sent.slice(0, n)) this.#bytes -= x.frame.length;
    this.#sent = this.#sent.slice(n);
    this.stats.delivered += n;
    this.stats.queued = this.#pending;
    if (this.#sent.length === 0 && this.#confirmTimer !== undefined) { clearInterval(this.#confirmTimer); this.#confirmTimer = undefined; }
  }
}
