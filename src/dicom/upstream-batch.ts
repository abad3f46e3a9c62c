// Bytes on their way to the PACS, copied into a few reused 64 KB slabs and written one slab region at a time.

import type { Socket } from 'node:net';
import { giveSlab, SLAB_BYTES, takeSlab } from '../util/slab-pool.js';
import { writable } from './socket-io.js';

interface Slab {
  readonly buf: Buffer;
  /** Writes of this slab not yet completed. */
  inFlight: number;
}

/**
 * Collects what goes to the PACS by copying it (the client's chunks are views of a shared read
 * buffer, see socket-read.ts) into a slab, and writes each filled region with one write call.
 * A slab is reused once its writes have completed; an association holds none while idle.
 * Bounded by the caller's backpressure: the client is paused while the PACS socket needs 'drain'.
 */
export class UpstreamBatch {
  readonly #socket: Socket;
  #slab: Slab | undefined;
  /** Start of the bytes not yet handed to the socket, and the end of the filled part. */
  #start = 0;
  #fill = 0;
  /** Regions of earlier slabs, filled up but not yet written. */
  readonly #sealed: Array<{ slab: Slab; view: Buffer }> = [];
  #queued = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Bytes queued and not yet written. */
  get queued(): number { return this.#queued; }

  /** Copies `bufs` into the batch and empties the array. */
  append(bufs: Buffer[]): void {
    for (const b of bufs) this.#copy(b);
    bufs.length = 0;
  }

  #copy(src: Buffer): void {
    let off = 0;
    while (off < src.length) {
      let slab = this.#slab;
      if (slab === undefined || this.#fill === SLAB_BYTES) {
        if (slab !== undefined) this.#seal(slab);
        slab = { buf: takeSlab(), inFlight: 0 };
        this.#slab = slab;
        this.#start = 0;
        this.#fill = 0;
      }
      const n = Math.min(src.length - off, SLAB_BYTES - this.#fill);
      src.copy(slab.buf, this.#fill, off, off + n);
      this.#fill += n;
      this.#queued += n;
      off += n;
    }
  }

  /** The current slab is full: its unwritten region waits in `sealed`, the slab is no longer current. */
  #seal(slab: Slab): void {
    if (this.#fill > this.#start) {
      slab.inFlight++;
      this.#sealed.push({ slab, view: slab.buf.subarray(this.#start, this.#fill) });
    }
    this.#slab = undefined;
    if (slab.inFlight === 0) giveSlab(slab.buf);
  }

  /**
   * Writes everything queued (one write per slab region, corked together). Returns false when the
   * socket's buffer is full, i.e. the caller should stop reading the client until 'drain'.
   */
  write(): boolean {
    const socket = this.#socket;
    if (this.#queued === 0) return !socket.writableNeedDrain;
    if (!writable(socket)) {
      this.discard();
      return !socket.writableNeedDrain;
    }
    const slab = this.#slab;
    const regions = this.#sealed.splice(0);
    if (slab !== undefined && this.#fill > this.#start) {
      slab.inFlight++;
      regions.push({ slab, view: slab.buf.subarray(this.#start, this.#fill) });
      this.#start = this.#fill;
    }
    this.#queued = 0;
    if (regions.length > 1) socket.cork();
    for (const r of regions) socket.write(r.view, () => this.#written(r.slab));
    if (regions.length > 1) socket.uncork();
    return !socket.writableNeedDrain;
  }

  /** A write completed (or failed): the slab can be refilled once nothing of it is in flight. */
  #written(slab: Slab): void {
    slab.inFlight--;
    if (slab.inFlight > 0) return;
    if (slab !== this.#slab) {
      giveSlab(slab.buf);
    } else if (this.#start === this.#fill) {
      // Everything written: the association gives its slab back while it is idle.
      this.#slab = undefined;
      this.#start = 0;
      this.#fill = 0;
      giveSlab(slab.buf);
    }
  }

  /** Takes everything queued as one new buffer (to write ahead of a PDU the caller sends itself). */
  take(): Buffer[] {
    if (this.#queued === 0) return [];
    const parts = this.#sealed.map((r) => r.view);
    if (this.#slab !== undefined && this.#fill > this.#start) parts.push(this.#slab.buf.subarray(this.#start, this.#fill));
    const out = Buffer.concat(parts, this.#queued);
    this.discard();
    return [out];
  }

  /** Drops everything queued (the association is ending). */
  discard(): void {
    for (const r of this.#sealed.splice(0)) {
      r.slab.inFlight--;
      if (r.slab.inFlight === 0) giveSlab(r.slab.buf);
    }
    if (this.#slab !== undefined) this.#start = this.#fill;
    this.#queued = 0;
  }
}
