// What the HTTP/1.1 connection and the HTTP/2 stream share on their way to the PACS: the request's
// credentials, the admission checks before the guard, the guard itself, and leasing a pooled PACS
// connection (with one retry on a reused connection the PACS had closed). Neither touches a socket here.

import { GatewayError } from '../../errors.js';
import type { PeerIdentity } from '../../tls/peer-identity.js';
import type { AuthInput } from '../authenticate.js';
import { requestSiteOf } from '../cross-site.js';
import { guardRequest, type GuardDeps, type GuardVerdict, type Mounted } from '../dicomweb-guard.js';
import type { RequestOutcome } from '../request-outcome.js';
import type { ExchangeOutcome } from './exchange.js';
import type { RequestHead } from './request-head.js';
import type { Lease, UpstreamPool } from './upstream-pool.js';

/** Methods whose request body a PACS may not read: a body on them could be taken for the next request. */
export const BODILESS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

/** The credentials of a parsed request: one Authorization (two make it malformed: ''), every Cookie field joined. */
export function authInputOfHead(head: Pick<RequestHead, 'headers'>, ip: string, tls: PeerIdentity, requestId: string | undefined): AuthInput {
  let authorization: string | undefined;
  let cookie: string | undefined;
  for (const [k, v] of head.headers) {
    if (k === 'authorization') authorization = authorization === undefined ? v : '';
    else if (k === 'cookie') cookie = cookie === undefined ? v : `${cookie}; ${v}`;
  }
  return { authorization, cookie, ip, tls, requestId };
}

/** Checks a DICOMweb request before the guard: a body on GET, HEAD, DELETE or OPTIONS is refused (400). */
export function admissionRefusal(head: Pick<RequestHead, 'method' | 'body'>): GatewayError | undefined {
  if (head.body.kind !== 'none' && BODILESS.has(head.method)) return new GatewayError('ERR_BAD_REQUEST', `a ${head.method} request must not carry a body`);
  return undefined;
}

/** The guard's verdict for a mounted request; cross-site origins are checked on state-changing methods only (STOW, DELETE). */
export function guardHead(head: Pick<RequestHead, 'method' | 'target' | 'headers'>, m: Mounted, auth: AuthInput, deps: GuardDeps): Promise<GuardVerdict> {
  const site = head.method === 'POST' || head.method === 'DELETE' ? requestSiteOf(head.headers) : undefined;
  return guardRequest(head.method, head.target, m, auth, deps, site);
}

/** The refusal for a PACS exchange that failed before any answer: 504 on a timeout, else 502. */
export function upstreamError(err: Error, timeout: boolean): GatewayError {
  const code = (err as { code?: string }).code;
  if (timeout || code === 'UND_ERR_CONNECT_TIMEOUT') return new GatewayError('ERR_UPSTREAM_TIMEOUT', 'The PACS did not answer in time (upstream timeout)', { cause: err });
  if (code === 'UPSTREAM_MALFORMED') return new GatewayError('ERR_UPSTREAM_UNAVAILABLE', 'The PACS sent an answer the gateway does not relay (malformed upstream response)', { cause: err });
  return new GatewayError('ERR_UPSTREAM_UNAVAILABLE', 'The PACS is unreachable (upstream connection failed)', { cause: err });
}

/** One forwarding of an allowed request, as its client side sees it. */
export interface PacsForwarding {
  /** The client is gone: a leased connection goes back unused. */
  gone(): boolean;
  /** Starts the exchange on the leased connection; `onEnd` is told how it ended. */
  start(lease: Lease, onEnd: (o: ExchangeOutcome) => void): void;
  /** No connection could be had (`err`), or the exchange ended (`o`): the client side answers or goes on. */
  failed(err: Error): void;
  ended(o: ExchangeOutcome): void;
}

/**
 * Leases a PACS connection and runs the exchange on it. Requests with a body get a new connection (a
 * reused one may have been closed by the PACS, and a body cannot be sent twice); a bodiless request
 * that found its reused connection closed before any answer is tried once more on a new one.
 */
export function forwardToPacs(pool: UpstreamPool, hasBody: boolean, outcome: RequestOutcome | undefined, f: PacsForwarding): void {
  const attempt = (retry: boolean): void => {
    pool.acquire(hasBody || retry, (err, lease) => {
      if (f.gone()) { if (lease !== undefined) pool.release(lease.socket, true); return; }
      if (err !== undefined || lease === undefined) {
        outcome?.end({ kind: 'no-response', timeout: (err as { code?: string } | undefined)?.code === 'UND_ERR_CONNECT_TIMEOUT', badRequest: false });
        f.failed(err ?? new Error('no upstream connection'));
        return;
      }
      f.start(lease, (o) => {
        pool.release(lease.socket, o.kind === 'done' && o.upstreamReusable);
        if (o.kind === 'no-response' && !o.timeout && !o.badRequest && lease.reused && !hasBody && !retry) { attempt(true); return; }
        outcome?.end(o);
        f.ended(o);
      });
    });
  };
  attempt(false);
}
