// The metrics listener (listen.metrics): GET /metrics in the Prometheus text format, on its own address, never the public port.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  listen(host: string, port: number): Promise<AddressInfo>;
  close(): Promise<void>;
}

export function createMetricsServer(registry: Registry, logger: Logger): MetricsServer {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : text);
    }, (err: unknown) => {
      logger.error({ err: { message: (err as Error).message } }, 'metrics could not be collected');
      res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be collected\n');
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return {
    listen: (host, port) => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address() as AddressInfo);
      });
    }),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
