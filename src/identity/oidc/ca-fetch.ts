// A fetch for the identity provider's endpoints that trusts a given CA bundle (a hospital's internal
// PKI) instead of, or besides, the system store; used by openid-client and the JWKS of logout tokens.

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What the IdP may answer at most (discovery, JWKS, token responses are a few KiB). */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface CaFetchOptions {
  /** PEM bundle the IdP's certificate must chain to; undefined: the system trust store. */
  readonly ca?: string;
  readonly timeoutMs: number;
}

type FetchInit = { method?: string; headers?: unknown; body?: unknown; signal?: AbortSignal | null };

function bodyOf(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof URLSearchParams) return Buffer.from(body.toString(), 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError('unsupported request body for the IdP fetch');
}

function headersOf(h: unknown): Record<string, string> {
  if (h === undefined || h === null) return {};
  if (h instanceof Headers) return Object.fromEntries(h.entries());
  if (Array.isArray(h)) return Object.fromEntries(h as [string, string][]);
  return { ...(h as Record<string, string>) };
}

/**
 * A Fetch-API-shaped function over node:https with `ca` pinned: never follows redirects (the
 * OAuth clients ask for redirect: manual), bounded in time and size.
 */
export function caFetch(o: CaFetchOptions): (url: string | URL, init?: FetchInit) => Promise<Response> {
  return (input, init = {}) => new Promise<Response>((resolve, reject) => {
    const url = new URL(String(input));
    const body = bodyOf(init.body);
    const headers = headersOf(init.headers);
    if (body !== undefined) headers['content-length'] = String(body.length);
    const common = { method: init.method ?? 'GET', headers, timeout: o.timeoutMs };
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) { res.destroy(new Error('the identity provider answered more than 1 MiB')); return; }
        chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (Array.isArray(v)) for (const x of v) h.append(k, x);
          else if (v !== undefined) h.set(k, v);
        }
        const status = res.statusCode ?? 502;
        const nullBody = status === 204 || status === 304;
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage ?? '', headers: h }));
      });
    };
    const req = url.protocol === 'https:'
      ? httpsRequest(url, { ...common, ...(o.ca === undefined ? {} : { ca: o.ca }), agent: false }, onResponse)
      : httpRequest(url, { ...common, agent: false }, onResponse);
    req.on('timeout', () => req.destroy(new Error(`the identity provider did not answer within ${o.timeoutMs} ms`)));
    req.on('error', reject);
    init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')), { once: true });
    req.end(body);
  });
}
