// Test helper: an HTTP server that receives alert webhooks and checks their HMAC-SHA256 signature, as a receiver would.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedAlert {
  readonly deliveryId: string;
  readonly body: { id: string; time: string; gateway: string; alert: Record<string, any> };
  /** The signature header matched HMAC-SHA256(secret, `${t}.${body}`) (compared in constant time). */
  readonly signatureValid: boolean;
}

export interface WebhookReceiver {
  readonly url: string;
  /** Alerts received with a valid signature, each delivery once. */
  alerts(): ReceivedAlert[];
  /** Every POST, including refused ones and retries. */
  readonly attempts: number;
  readonly badSignatures: number;
  close(): Promise<void>;
}

/** Verifies `t=…,v1=…` the way the README tells a receiver to. */
export function verifySignature(secret: string, header: string | undefined, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (m === null) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2] as string, 'hex'));
}

/** Starts a receiver; the first `failFirst` POSTs are answered 503 (to see the gateway retry). */
export async function startWebhookReceiver(secret: string, o: { failFirst?: number } = {}): Promise<WebhookReceiver> {
  const received = new Map<string, ReceivedAlert>();
  let attempts = 0;
  let bad = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      const body = Buffer.concat(chunks).toString('utf8');
      if (attempts <= (o.failFirst ?? 0)) { res.writeHead(503).end(); return; }
      const valid = verifySignature(secret, req.headers['x-pacs-gateway-signature'] as string | undefined, body);
      if (!valid) { bad++; res.writeHead(401).end(); return; }
      const id = String(req.headers['x-pacs-gateway-delivery']);
      received.set(id, { deliveryId: id, body: JSON.parse(body), signatureValid: valid });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/pacs`,
    alerts: () => [...received.values()],
    get attempts() { return attempts; },
    get badSignatures() { return bad; },
    close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}
