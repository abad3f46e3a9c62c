// Socket writes for the relay: batched (cork/uncork → one writev) and with backpressure towards the other leg.

import type { Socket } from 'node:net';

/** True when the socket can still take writes. */
export function writable(socket: Socket): boolean {
  return !socket.destroyed && socket.writable;
}

/**
 * Writes and empties `bufs` in one batch. Returns false when the socket's buffer is full
 * (the caller should stop reading the other leg until 'drain').
 */
export function writeAll(socket: Socket, bufs: Buffer[]): boolean {
  if (bufs.length === 0 || !writable(socket)) {
    bufs.length = 0;
    return !socket.writableNeedDrain;
  }
  if (bufs.length === 1) {
    socket.write(bufs[0] as Buffer);
  } else {
    socket.cork();
    for (const b of bufs) socket.write(b);
    socket.uncork();
  }
  bufs.length = 0;
  return !socket.writableNeedDrain;
}

/** Pauses `source` until `sink` drains; idempotent while a pause is in force. */
export function holdUntilDrained(source: Socket, sink: Socket): void {
  if (source.isPaused()) return;
  source.pause();
  sink.once('drain', () => {
    if (!source.destroyed) source.resume();
  });
}

/** Ends a socket gracefully and destroys it if it has not closed after `graceMs`. */
export function endSoon(socket: Socket, graceMs: number): void {
  if (socket.destroyed) return;
  socket.end();
  const t = setTimeout(() => socket.destroy(), graceMs);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}
