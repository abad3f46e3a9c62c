// Test helper: a TCP proxy on loopback that records both directions of every connection and can stall the network.

import { createServer, connect, type Server, type Socket } from 'node:net';

/** One proxied connection: the bytes each side sent, in order. */
export interface ProxiedConnection {
  readonly fromClient: Buffer[];
  readonly fromServer: Buffer[];
}

export interface TcpProxy {
  readonly port: number;
  /** Every connection so far, in the order they were accepted (recorded only with `record: true`). */
  readonly connections: readonly ProxiedConnection[];
  /**
   * Stalls the network: bytes in both directions are held (not dropped) and new connections are
   * held unconnected until resume(), as a congested or partitioned link would.
   */
  pause(): void;
  resume(): void;
  /** Cuts every open connection at once (RST to both sides). */
  cutAll(): void;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  readonly record?: boolean;
}

export async function startTcpProxy(o: TcpProxyOptions): Promise<TcpProxy> {
  const connections: ProxiedConnection[] = [];
  const open = new Set<Socket>();
  let paused = false;
  const waiting: (() => void)[] = [];
  const server: Server = createServer((client) => {
    const rec: ProxiedConnection = { fromClient: [], fromServer: [] };
    if (o.record === true) connections.push(rec);
    open.add(client);
    client.setNoDelay(true);
    client.on('error', () => undefined);
    client.pause();
    const start = (): void => {
      if (client.destroyed) return;
      const upstream = connect({ host: o.target.host, port: o.target.port, noDelay: true });
      open.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      const pipe = (from: Socket, to: Socket, log: Buffer[]): void => {
        from.on('data', (c: Buffer) => {
          if (o.record === true) log.push(Buffer.from(c));
          if (!to.write(c)) from.pause();
        });
        to.on('drain', () => { if (!paused) from.resume(); });
        from.on('end', () => to.end());
        from.on('close', () => { open.delete(from); to.destroy(); });
      };
      pipe(client, upstream, rec.fromClient);
      pipe(upstream, client, rec.fromServer);
      if (!paused) client.resume();
    };
    if (paused) waiting.push(start);
    else start();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    connections,
    pause() {
      paused = true;
      for (const s of open) s.pause();
    },
    resume() {
      paused = false;
      for (const s of open) s.resume();
      for (const w of waiting.splice(0)) w();
    },
    cutAll() {
      for (const s of open) s.resetAndDestroy();
    },
    close: () => new Promise<void>((r) => {
      for (const s of open) s.destroy();
      server.close(() => r());
    }),
  };
}
