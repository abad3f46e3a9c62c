// Reference proxies with none of the gateway's logic, to separate what node costs from what the gateway adds:
//   node    — https.createServer → http.request on a keep-alive agent, piped (node's HTTP stack alone)
//   fastify — fastify + @fastify/http-proxy with the gateway's undici settings (the gateway's stack, no guard)
// Usage: node floor-proxy.js node|fastify PORT UPSTREAM_ORIGIN CERT_FILE KEY_FILE

import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:https';
import { pipeline } from 'node:stream';
import httpProxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { TLS_SERVER_PROFILE } from '../src/tls/profile.js';

async function main(): Promise<void> {
  const [mode, portArg, upstream, certFile, keyFile] = process.argv.slice(2);
  if ((mode !== 'node' && mode !== 'fastify') || portArg === undefined || upstream === undefined || certFile === undefined || keyFile === undefined) {
    throw new TypeError('usage: floor-proxy node|fastify PORT UPSTREAM_ORIGIN CERT_FILE KEY_FILE');
  }
  const port = Number(portArg);
  const tls = { ...TLS_SERVER_PROFILE, cert: readFileSync(certFile), key: readFileSync(keyFile) };
  const up = new URL(upstream);
  if (mode === 'node') {
    const agent = new Agent({ keepAlive: true, maxSockets: 128, maxFreeSockets: 128 });
    const server = createServer(tls, (req, res) => {
      const out = request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers: req.headers, agent }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        // pipeline: a client that goes away mid-answer destroys the upstream request, so its socket is not leaked.
        pipeline(answer, res, () => undefined);
      });
      out.on('error', () => {
        if (!res.headersSent) res.statusCode = 502;
        res.destroy();
      });
      res.on('close', () => { if (!res.writableFinished) out.destroy(); });
      pipeline(req, out, () => undefined);
    });
    server.keepAliveTimeout = 30_000;
    server.listen(port, '127.0.0.1');
  } else {
    const app = Fastify({ https: tls, logger: false, keepAliveTimeout: 30_000, connectionTimeout: 0 });
    await app.register(httpProxy, {
      upstream: up.origin, prefix: '/', http2: false, disableRequestLogging: true,
      undici: { connections: 128, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 },
    });
    await app.listen({ host: '127.0.0.1', port });
  }
  const stop = (): void => process.exit(0);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`floor-proxy: ${(err as Error).message}\n`);
  process.exit(1);
});
