// Cross-site request refusal (CSRF and login CSRF): what a browser says about where a request comes from.
//
// Browsers mark every request with Sec-Fetch-Site (Fetch Metadata: Chromium 76+, Firefox 90+, Safari
// 16.4+) and state-changing ones with Origin (RFC 6454 §7, Fetch §3.1); a page's scripts can set
// neither. A request that changes state is refused unless it comes from the gateway's own origin or
// from the user (Sec-Fetch-Site: none, e.g. a bookmark). "same-site" is refused too: another port or
// subdomain of the same site gets the SameSite=Strict cookie but is not the gateway. A request with
// neither header does not come from a browser (curl, API clients) and is not a forgery.

import { GatewayError } from '../errors.js';

/** The request fields that tell where a browser request comes from. */
export interface RequestSite {
  /** Sec-Fetch-Site, lower case. */
  readonly fetchSite: string | undefined;
  readonly origin: string | undefined;
  /** The Host field the request was sent with. */
  readonly host: string | undefined;
}

/** The audit reason of every cross-site refusal. */
export const CROSS_SITE_REASON = 'cross-site-request';

/** Why the request must be refused as cross-site (a short phrase naming the field), or undefined when it may go on. */
export function crossSiteReason(s: RequestSite): string | undefined {
  if (s.fetchSite !== undefined) return s.fetchSite === 'same-origin' || s.fetchSite === 'none' ? undefined : `Sec-Fetch-Site: ${s.fetchSite.slice(0, 32)}`;
  if (s.origin === undefined) return undefined;
  // The gateway serves HTTPS only; its origin is https:// and the Host the browser sent (RFC 6454 §6.1 serialisation).
  if (s.host !== undefined && s.origin.toLowerCase() === `https://${s.host.toLowerCase()}`) return undefined;
  return `Origin: ${s.origin.slice(0, 128)}`;
}

/** The refusal a cross-site request gets (403). */
export function crossSiteError(why: string): GatewayError {
  return new GatewayError('ERR_CROSS_SITE', `Cross-site request refused (${why}): this request must come from the gateway's own pages`);
}

/** The RequestSite of a parsed head's fields (lower-case names). */
export function requestSiteOf(headers: readonly (readonly [string, string])[]): RequestSite {
  let fetchSite: string | undefined;
  let origin: string | undefined;
  let host: string | undefined;
  for (const [k, v] of headers) {
    if (k === 'sec-fetch-site') fetchSite = v.toLowerCase();
    else if (k === 'origin') origin = v;
    else if (k === 'host') host = v;
  }
  return { fetchSite, origin, host };
}
