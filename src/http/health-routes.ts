// Liveness and readiness endpoints for orchestrators and load balancers.

import type { FastifyInstance } from 'fastify';

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when the dependency answers; rejects with a reason otherwise. */
  readonly check: () => Promise<void>;
}

/** GET /healthz: the process is alive. GET /readyz: every dependency answers (503 naming what does not). */
export async function healthRoutes(app: FastifyInstance, checks: readonly ReadinessCheck[]): Promise<void> {
  app.get('/healthz', async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const results = await Promise.all(checks.map(async (c) => {
      try {
        await c.check();
        return [c.name, { status: 'up' }] as const;
      } catch (err) {
        return [c.name, { status: 'down', reason: (err as Error).message }] as const;
      }
    }));
    const ready = results.every(([, r]) => r.status === 'up');
    return reply.code(ready ? 200 : 503).header('cache-control', 'no-store').send({ status: ready ? 'ready' : 'not-ready', checks: Object.fromEntries(results) });
  });
}

/** Checks a TCP upstream accepts connections. */
export async function probeTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  const { connect } = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host, port });
    const t = setTimeout(() => { s.destroy(); reject(new Error(`${host}:${port} did not accept a connection in ${timeoutMs} ms`)); }, timeoutMs);
    s.once('connect', () => { clearTimeout(t); s.end(); resolve(); });
    s.once('error', (e: NodeJS.ErrnoException) => { clearTimeout(t); reject(new Error(`${host}:${port} unreachable: ${e.code ?? e.message}`)); });
  });
}
