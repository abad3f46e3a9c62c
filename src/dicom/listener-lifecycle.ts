// Start and stop of a DIMSE listener (the TLS port, the legacy port, the relay): one copy of the
// listen-or-reject and the shutdown-with-grace that all three need.

import type { AddressInfo, Server, Socket } from 'node:net';

/** Open associations are asked to end, then cut after this long. */
export const CLOSE_GRACE_MS = 2000;

/** What a listener's close() needs of an open association. */
export interface Closable {
  shutdown(): void;
  readonly closed: Promise<unknown>;
}

/** Listens; resolves with the bound address (after `started` has logged it), rejects on a listen error (EADDRINUSE …). */
export function listenOn(server: Server, port: number, host: string, started: (address: AddressInfo) => void): Promise<AddressInfo> {
  return new Promise<AddressInfo>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      started(address);
      resolve(address);
    });
  });
}

/**
 * Stops accepting, asks every open association to end (A-ABORT), waits for them at most
 * CLOSE_GRACE_MS, then destroys whatever is left (handshakes in progress, peers that do not close).
 */
export async function closeListener(server: Server, open: ReadonlySet<Closable>, sockets: ReadonlySet<Socket>): Promise<void> {
  const stopped = new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
  for (const a of open) a.shutdown();
  const grace = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref());
  await Promise.race([Promise.all([...open].map((a) => a.closed)), grace]);
  for (const s of sockets) s.destroy();
  await stopped;
}
