// The DICOMweb and WADO-URI proxy: classify, authenticate, authorize, audit, then stream to the PACS.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import { GatewayError } from '../errors.js';
import type { Audit } from '../audit/audit.js';
import type { RoleRules } from '../config/types.js';
import { authorize } from '../policy/authorize.js';
import { authenticate, type HttpAuthDeps } from './authenticate.js';
import { classifyDicomweb, classifyWadoUri, type Classification, type DicomwebRoute } from './classify-dicomweb.js';
import { replyError } from './reply-error.js';

export interface ProxyDeps extends HttpAuthDeps {
  readonly audit: Audit;
  readonly roles: () => Readonly<Record<string, RoleRules>>;
  readonly timeoutMs: number;
}

interface Mount {
  /** Path prefix on the gateway, e.g. /dicom-web. */
  readonly prefix: string;
  /** Upstream base URL for that prefix, e.g. http://127.0.0.1:8042/dicom-web. */
  readonly upstream: URL;
  readonly classify: (method: string, rest: string, query: string) => Classification;
}

const kRoute = Symbol('dicomweb-route');
type Routed = FastifyRequest & { [kRoute]?: { route: DicomwebRoute; rest: string; query: string } };

/** Splits the raw request URL into the raw path after `prefix` and the raw query. */
function splitRaw(url: string, prefix: string): { rest: string; query: string } | undefined {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  if (path === prefix) return { rest: '', query };
  if (!path.startsWith(`${prefix}/`)) return undefined;
  return { rest: path.slice(prefix.length + 1), query };
}

function uidsOf(route: DicomwebRoute): Record<string, string> {
  const out: Record<string, string> = {};
  if (route.studyUid !== undefined) out['studyUid'] = route.studyUid;
  if (route.seriesUid !== undefined) out['seriesUid'] = route.seriesUid;
  if (route.instanceUid !== undefined) out['instanceUid'] = route.instanceUid;
  return out;
}

/** Headers the gateway owns: never passed from the client to the PACS. */
const STRIPPED = ['authorization', 'cookie', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-real-ip', 'proxy-authorization'];

async function mount(app: FastifyInstance, m: Mount, deps: ProxyDeps): Promise<void> {
  const guard = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const req = request as Routed;
    const raw = splitRaw(req.raw.url ?? '', m.prefix);
    const base = { event: 'authz.http' as const, source: req.ip, httpMethod: req.method, path: (req.raw.url ?? '').slice(0, 512) };
    if (raw === undefined) return replyError(reply, new GatewayError('ERR_ROUTE_REFUSED'));
    const c = m.classify(req.method, raw.rest, raw.query);
    if (!c.ok) {
      deps.audit.record({ ...base, decision: 'deny', reason: c.reason });
      const code = c.status === 400 ? 'ERR_PATH_REFUSED' : 'ERR_ROUTE_REFUSED';
      return replyError(reply.header('allow', 'GET, HEAD, POST'), new GatewayError(code, c.status === 405 ? `method ${req.method} is not allowed on this DICOMweb route` : undefined))
        .code(c.status);
    }
    let principal;
    try {
      ({ principal } = await authenticate(req, deps));
    } catch (err) {
      deps.audit.record({
        ...base, decision: 'deny', reason: err instanceof GatewayError ? err.code : 'error', action: c.action, ...uidsOf(c),
        ...(err instanceof GatewayError && err.detail !== undefined ? { detail: err.detail } : {}),
      });
      return replyError(reply, err);
    }
    const d = authorize(deps.roles(), principal, { action: c.action });
    deps.audit.record({
      ...base, decision: d.allowed ? 'allow' : 'deny', reason: d.reason, principal: principal.id, role: principal.role,
      method: principal.method, action: c.action, service: c.service, ...uidsOf(c),
    });
    if (!d.allowed) {
      return replyError(reply, new GatewayError('ERR_FORBIDDEN', `your role "${principal.role}" does not allow the "${c.action}" action`, { detail: { action: c.action, role: principal.role } }));
    }
    req[kRoute] = { route: c, rest: raw.rest, query: raw.query };
    return undefined;
  };

  const upstreamPath = m.upstream.pathname.replace(/\/$/, '');
  // onRequest: refuse before a request body is read, so a refused upload never reaches the PACS.
  await app.register(async (scope) => {
    scope.addHook('onRequest', guard);
    await scope.register(httpProxy, {
      upstream: m.upstream.origin,
      prefix: m.prefix,
      rewritePrefix: upstreamPath,
      httpMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'],
      undici: { connections: 128, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: deps.timeoutMs, bodyTimeout: deps.timeoutMs },
      http2: false,
      // The authz.http audit event is the record of each request; reply-from's two info lines per
      // request ("fetching from remote server", "response received") cost ~14 % of the CPU of a
      // QIDO-RS request (docs/benchmarks.md). Upstream failures are still logged by onError below.
      disableRequestLogging: true,
      handler: (request, reply, _dest, options) => {
        const r = (request as Routed)[kRoute];
        if (r === undefined) return replyError(reply, new GatewayError('ERR_ROUTE_REFUSED'));
        // Forward the raw path and query byte for byte (Orthanc's WADO-URI does not decode queries).
        const target = `${upstreamPath}/${r.rest}`.replace(/\/$/, '') || '/';
        return reply.from(target, { ...options, queryString: () => r.query });
      },
      replyOptions: {
        rewriteRequestHeaders: (req, headers) => {
          const out: Record<string, string | string[] | undefined> = { ...headers };
          for (const h of STRIPPED) delete out[h];
          out['x-forwarded-for'] = req.ip;
          out['x-forwarded-proto'] = 'https';
          if (typeof req.headers.host === 'string') out['x-forwarded-host'] = req.headers.host;
          return out;
        },
        rewriteHeaders: (headers) => {
          const out = { ...headers };
          // The PACS's cookies and hop-by-hop headers are its own business, not the client's (RFC 9110 §7.6.1).
        for (const h of ['set-cookie', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']) delete out[h];
          return out;
        },
        onError: (reply, { error }) => {
          const e = error as Error & { code?: string; statusCode?: number };
          const timeout = e.statusCode === 504 || /timeout/i.test(`${e.code ?? ''} ${e.message}`);
          reply.log.warn({ err: { message: e.message, code: e.code } }, 'upstream DICOMweb request failed');
          replyError(reply as unknown as FastifyReply, new GatewayError(timeout ? 'ERR_UPSTREAM_TIMEOUT' : 'ERR_UPSTREAM_UNAVAILABLE',
            timeout ? 'The PACS did not answer in time (upstream timeout)' : 'The PACS is unreachable (upstream connection failed)', { cause: error }));
        },
      },
    });
  });
}

/** Registers /dicom-web (and /wado for WADO-URI) with the guard in front. */
export async function dicomwebProxy(app: FastifyInstance, deps: ProxyDeps & { dicomwebUrl: string; wadoUriUrl: string }): Promise<void> {
  await mount(app, { prefix: '/dicom-web', upstream: new URL(deps.dicomwebUrl), classify: classifyDicomweb }, deps);
  await mount(app, { prefix: '/wado', upstream: new URL(deps.wadoUriUrl), classify: classifyWadoUri }, deps);
}
