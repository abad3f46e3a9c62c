// How many of a run's TLS connections resumed a session (a ticket) instead of making a full handshake:
// the gateway's from its Prometheus counter, nginx's from its access log (one line per request).

import { closeSync, openSync, readSync, statSync } from 'node:fs';

export interface Handshakes { readonly full: number; readonly resumed: number }

/** A reading taken before a run; `since()` after it gives the run's handshakes. */
export interface HandshakeMark { since(): Promise<Handshakes> }

/** The gateway's HTTPS handshakes so far (pacs_gateway_tls_handshakes_total{channel="https"}). */
async function gatewayCount(metricsPort: number): Promise<Handshakes> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const count = (resumed: string): number => {
    const m = new RegExp(`^pacs_gateway_tls_handshakes_total\\{channel="https",resumed="${resumed}"\\} (\\d+)$`, 'm').exec(text);
    return Number(m?.[1] ?? 0);
  };
  return { full: count('false'), resumed: count('true') };
}

export async function markGateway(metricsPort: number): Promise<HandshakeMark> {
  const before = await gatewayCount(metricsPort);
  return {
    since: async () => {
      const after = await gatewayCount(metricsPort);
      return { full: after.full - before.full, resumed: after.resumed - before.resumed };
    },
  };
}

/**
 * nginx's requests since the mark, by the last field of its access log line ($ssl_session_reused:
 * "r" resumed, "." full). With one request per connection (Connection: close) a request is a handshake.
 */
export function markNginx(accessLog: string): HandshakeMark {
  const from = statSync(accessLog).size;
  return {
    since: () => {
      const to = statSync(accessLog).size;
      const buf = Buffer.alloc(to - from);
      const fd = openSync(accessLog, 'r');
      try { readSync(fd, buf, 0, buf.length, from); } finally { closeSync(fd); }
      let full = 0;
      let resumed = 0;
      for (const line of buf.toString('latin1').split('\n')) {
        if (line.endsWith(' r')) resumed++;
        else if (line.endsWith(' .')) full++;
      }
      return Promise.resolve({ full, resumed });
    },
  };
}

/** Percentage of resumed handshakes (NaN with none at all). */
export function resumedPercent(h: Handshakes): number {
  const total = h.full + h.resumed;
  return total === 0 ? Number.NaN : (100 * h.resumed) / total;
}
