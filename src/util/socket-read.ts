// Reads a socket into one shared, reused buffer (net.Socket `onread`), so that a TLS connection does not allocate a buffer per record.

import { Socket } from 'node:net';

/** Size of the shared read buffer: one TLS record's plaintext (node decrypts one record per callback). */
export const READ_BUFFER_BYTES = 16384;

/**
 * The private keys under which net.Socket keeps its `onread` buffer and callback. A TLS socket
 * accepted by tls.Server cannot be given `onread` (node passes `onread: null` when it wraps an
 * existing socket), so they are found once on a probe socket made with `onread` and set on the
 * accepted socket, together with the handle's `useUserBuffer`. When this node does not have
 * them, `readChunks` falls back to 'data' events.
 */
interface OnreadKeys { readonly buffer: symbol; readonly callback: symbol; readonly generator: symbol | undefined }

function findOnreadKeys(): OnreadKeys | undefined {
  try {
    // `onread` is a documented net.Socket option that @types/node 20 leaves out of SocketConstructorOpts.
    const probe = new Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } } as ConstructorParameters<typeof Socket>[0]);
    const byName = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
    probe.destroy();
    const buffer = byName.get('kBuffer');
    const callback = byName.get('kBufferCb');
    if (buffer === undefined || callback === undefined) return undefined;
    return { buffer, callback, generator: byName.get('kBufferGen') };
  } catch {
    return undefined;
  }
}

/** PACS_GATEWAY_SHARED_READ=0 (or its first name, PACS_GATEWAY_DIMSE_ONREAD=0) turns the shared buffer off. */
const KEYS = process.env['PACS_GATEWAY_SHARED_READ'] === '0' || process.env['PACS_GATEWAY_DIMSE_ONREAD'] === '0' ? undefined : findOnreadKeys();

/**
 * One buffer for every socket read this way, DIMSE associations and HTTPS connections alike: node
 * fills it and calls back synchronously, on the main thread, one read at a time, and the callback
 * copies whatever it keeps (GuardedPipe; EdgeConnection copies each read out), so no two reads
 * can share it at once. A nested read (which libuv and node never make) is refused: both readers
 * are destroyed rather than given overwritten bytes.
 */
let shared: Buffer | undefined;
let reading: Socket | undefined;
let clobbered = false;

interface UserBufferHandle { useUserBuffer?: (buf: Uint8Array) => void }

/**
 * Delivers the socket's data to `onChunk` as (buffer, number of valid bytes at its start). Returns
 * true when that buffer is the shared one, valid only during the call (copy what must outlive it);
 * false when chunks are node's own buffers ('data' events, the fallback).
 */
export function readChunks(socket: Socket, onChunk: (chunk: Buffer, length: number) => void): boolean {
  const handle = (socket as unknown as { _handle?: UserBufferHandle | null })._handle;
  if (KEYS === undefined || handle == null || typeof handle.useUserBuffer !== 'function' || socket.readableLength > 0) {
    socket.on('data', (chunk: Buffer) => onChunk(chunk, chunk.length));
    return false;
  }
  shared ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  const buf = shared;
  const s = socket as unknown as Record<symbol, unknown>;
  s[KEYS.buffer] = buf;
  s[KEYS.callback] = (n: number, b: Buffer): boolean => {
    if (reading !== undefined) {
      clobbered = true;
      socket.destroy(new Error('nested read into the shared read buffer'));
      return false;
    }
    reading = socket;
    try {
      onChunk(b, n);
    } finally {
      reading = undefined;
    }
    if (clobbered) {
      clobbered = false;
      socket.destroy(new Error('the shared read buffer was overwritten during a read'));
      return false;
    }
    return true;
  };
  if (KEYS.generator !== undefined) s[KEYS.generator] = null;
  handle.useUserBuffer(buf);
  // net.Socket's resume() starts the handle reading when an onread buffer is set.
  socket.resume();
  return true;
}
