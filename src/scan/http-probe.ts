// The HTTP probe: the known PACS paths, one GET each, classified as exposed, challenged (asks for
// authentication), present, or absent; pacs-gateway recognised by its realm and error bodies.

import type { Socket } from 'node:net';
import type { Endpoint, ProbeContext } from './context.js';
import { httpGet, type HttpFailed } from './http-get.js';
import { gatewayErrorCode, HTTP_PATHS, qido } from './http-paths.js';
import { peerText } from './peer-text.js';

export type PathOutcome =
  | { readonly kind: 'exposed' | 'present'; readonly path: string; readonly status: number; readonly what: string }
  | { readonly kind: 'challenged'; readonly path: string; readonly status: number; readonly how: string }
  | { readonly kind: 'absent'; readonly path: string; readonly status: number; readonly gatewayError: string | undefined };

export interface HttpProbeResult {
  /** The first request's failure when the port did not answer HTTP at all. */
  readonly failed: HttpFailed | undefined;
  readonly paths: readonly PathOutcome[];
  /** The `Server` header, when one was sent. */
  readonly server: string | undefined;
  /** True when an answer carried pacs-gateway's realm or error body. */
  readonly gateway: boolean;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** A header as the evidence quotes it (the peer chose it: printable and bounded). */
function quoted(v: string | string[] | undefined): string | undefined {
  const h = header(v);
  return h === undefined ? undefined : peerText(h);
}

/** GETs every known path (plus `extraPaths`, e.g. a configured DICOMweb root) on one host:port. */
export async function probeHttp(ep: Endpoint, ctx: ProbeContext, o: { tls: boolean; socket?: Socket; extraPaths?: readonly string[] }): Promise<HttpProbeResult> {
  const probes = [
    ...(o.extraPaths ?? []).map((path) => ({ path, accept: 'application/dicom+json', match: qido(`DICOMweb QIDO-RS (${path.split('?')[0] ?? path})`) })),
    ...HTTP_PATHS.filter((p) => !(o.extraPaths ?? []).includes(p.path)),
  ];
  const paths: PathOutcome[] = [];
  let server: string | undefined;
  let gateway = false;
  let first = true;
  for (const p of probes) {
    const a = await httpGet(ep, ctx, p.path, p.accept, { tls: o.tls, ...(first && o.socket !== undefined ? { socket: o.socket } : {}) });
    if (!a.ok) {
      // The first request decides whether this is HTTP at all; later failures just skip a path.
      if (first) return { failed: a, paths, server, gateway };
      continue;
    }
    first = false;
    server ??= quoted(a.headers.server);
    const auth = header(a.headers['www-authenticate']);
    const errorCode = gatewayErrorCode(a.body);
    if ((auth !== undefined && /realm="pacs-gateway"/.test(auth)) || errorCode !== undefined) gateway = true;
    const ct = header(a.headers['content-type']) ?? '';
    if (a.status === 401 || a.status === 403 || a.status === 407) {
      paths.push({ kind: 'challenged', path: p.path, status: a.status, how: auth === undefined ? (errorCode ?? 'no WWW-Authenticate') : `WWW-Authenticate: ${peerText(auth)}` });
    } else if (a.status >= 300 && a.status < 400 && /login|signin|sso|oauth|openid|saml|realms|auth/i.test(header(a.headers.location) ?? '')) {
      paths.push({ kind: 'challenged', path: p.path, status: a.status, how: `redirect to a login (${quoted(a.headers.location) ?? ''})` });
    } else if (a.status >= 200 && a.status < 300) {
      const s = p.match(a.body, ct);
      if (s === undefined) paths.push({ kind: 'absent', path: p.path, status: a.status, gatewayError: errorCode });
      else paths.push({ kind: s.kind, path: p.path, status: a.status, what: s.what });
    } else if (a.status === 400 && p.path.startsWith('/wado') && errorCode === undefined) {
      paths.push({ kind: 'present', path: p.path, status: a.status, what: 'WADO-URI endpoint answered 400 to a request without UIDs, without asking for authentication' });
    } else {
      paths.push({ kind: 'absent', path: p.path, status: a.status, gatewayError: errorCode });
    }
  }
  return { failed: undefined, paths, server, gateway };
}
