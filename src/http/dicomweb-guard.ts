// The DICOMweb and WADO-URI guard: classify, authenticate, authorize and audit one request, and say
// where it may go. Nothing here touches a socket: the HTTPS edge forwards or refuses.

import { GatewayError } from '../errors.js';
import type { Audit } from '../audit/audit.js';
import type { RoleRules } from '../config/types.js';
import { authorize } from '../policy/authorize.js';
import { authenticate, type AuthInput, type HttpAuthDeps } from './authenticate.js';
import { classifyDicomweb, classifyWadoUri, type Classification } from './classify-dicomweb.js';
import { CROSS_SITE_REASON, crossSiteError, crossSiteReason, type RequestSite } from './cross-site.js';
import { RequestOutcome } from './request-outcome.js';

export interface GuardDeps extends HttpAuthDeps {
  readonly audit: Audit;
  readonly roles: () => Readonly<Record<string, RoleRules>>;
}

export interface Mount {
  /** Path prefix on the gateway, e.g. /dicom-web. */
  readonly prefix: string;
  /** Upstream base URL for that prefix, e.g. http://127.0.0.1:8042/dicom-web. */
  readonly upstream: URL;
  /** The upstream URL's path without a trailing slash ('' for the root). */
  readonly upstreamBase: string;
  readonly classify: (method: string, rest: string, query: string) => Classification;
}

/** The gateway's two forwarded prefixes and where they go. */
export function dicomwebMounts(dicomwebUrl: string, wadoUriUrl: string): readonly Mount[] {
  const mount = (prefix: string, url: string, classify: Mount['classify']): Mount => {
    const upstream = new URL(url);
    return { prefix, upstream, upstreamBase: upstream.pathname.replace(/\/$/, ''), classify };
  };
  return [mount('/dicom-web', dicomwebUrl, classifyDicomweb), mount('/wado', wadoUriUrl, classifyWadoUri)];
}

/** A request under a mount: the raw path after the prefix and the raw query. */
export interface Mounted { readonly mount: Mount; readonly rest: string; readonly query: string }

/** Which mount, if any, the raw request target is under. */
export function mountOf(mounts: readonly Mount[], target: string): Mounted | undefined {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  for (const mount of mounts) {
    if (path === mount.prefix) return { mount, rest: '', query };
    if (path.startsWith(mount.prefix) && path.charCodeAt(mount.prefix.length) === 0x2f) return { mount, rest: path.slice(mount.prefix.length + 1), query };
  }
  return undefined;
}

/** The upstream request target for a mounted request: the raw path and query, byte for byte. */
export function upstreamTarget(m: Mounted): string {
  const joined = `${m.mount.upstreamBase}/${m.rest}`;
  const path = (joined.endsWith('/') ? joined.slice(0, -1) : joined) || '/';
  return m.query === '' ? path : `${path}?${m.query}`;
}

export type GuardVerdict =
  /** `outcome`: the request's outcome report, when the audit trail has listeners (the edge feeds and ends it). */
  | { readonly allowed: true; readonly outcome: RequestOutcome | undefined }
  | { readonly allowed: false; readonly error: GatewayError; readonly status?: number; readonly headers?: Readonly<Record<string, string>> };

/**
 * Decides one request and writes its authz.http audit event. Never throws. `site`: where a browser
 * says a state-changing request (POST, DELETE) comes from; a cross-site STOW or DELETE is refused
 * before any credential is looked at (./cross-site.ts).
 */
export async function guardRequest(method: string, target: string, m: Mounted, auth: AuthInput, deps: GuardDeps, site?: RequestSite): Promise<GuardVerdict> {
  const path = target.slice(0, 512);
  const c = m.mount.classify(method, m.rest, m.query);
  if (!c.ok) {
    deps.audit.record({ event: 'authz.http', source: auth.ip, requestId: auth.requestId, httpMethod: method, path, decision: 'deny', reason: c.reason, status: c.status });
    const code = c.status === 400 ? 'ERR_PATH_REFUSED' : 'ERR_ROUTE_REFUSED';
    return {
      allowed: false, status: c.status, headers: { allow: 'GET, HEAD, POST' },
      error: new GatewayError(code, c.status === 405 ? `method ${method} is not allowed on this DICOMweb route` : undefined),
    };
  }
  const crossSite = site === undefined || (c.action !== 'store' && c.action !== 'delete') ? undefined : crossSiteReason(site);
  if (crossSite !== undefined) {
    deps.audit.record({
      event: 'authz.http', source: auth.ip, requestId: auth.requestId, httpMethod: method, path, decision: 'deny', reason: CROSS_SITE_REASON,
      action: c.action, service: c.service, fetchSite: site?.fetchSite, origin: site?.origin?.slice(0, 256), status: 403,
    });
    return { allowed: false, error: crossSiteError(crossSite) };
  }
  let principal;
  try {
    ({ principal } = await authenticate(auth, deps));
  } catch (err) {
    deps.audit.record({
      event: 'authz.http', source: auth.ip, requestId: auth.requestId, httpMethod: method, path, decision: 'deny', reason: err instanceof GatewayError ? err.code : 'error',
      action: c.action, service: c.service, studyUid: c.studyUid, seriesUid: c.seriesUid, instanceUid: c.instanceUid,
      detail: err instanceof GatewayError ? err.detail : undefined, status: err instanceof GatewayError ? err.statusCode : 500,
    });
    if (err instanceof GatewayError) return { allowed: false, error: err };
    return { allowed: false, status: 500, error: new GatewayError('ERR_BAD_REQUEST', 'internal error', { cause: err }) };
  }
  const d = authorize(deps.roles(), principal, { action: c.action });
  // Audit events are object literals without spreads: this one is written for every DICOMweb
  // request (absent UIDs are undefined, which the JSON line leaves out).
  deps.audit.record({
    event: 'authz.http', source: auth.ip, requestId: auth.requestId, httpMethod: method, path, decision: d.allowed ? 'allow' : 'deny', reason: d.reason,
    principal: principal.id, role: principal.role, method: principal.method, action: c.action, service: c.service,
    studyUid: c.studyUid, seriesUid: c.seriesUid, instanceUid: c.instanceUid, status: d.allowed ? undefined : 403,
  });
  if (!d.allowed) {
    return { allowed: false, error: new GatewayError('ERR_FORBIDDEN', `your role "${principal.role}" does not allow the "${c.action}" action`, { detail: { action: c.action, role: principal.role } }) };
  }
  return { allowed: true, outcome: deps.audit.listening ? new RequestOutcome(deps.audit, principal, c, auth.ip, method, path) : undefined };
}
