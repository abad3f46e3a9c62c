// Builds the HTTPS side: the TLS edge (DICOMweb guard and forwarder) and behind it the fastify
// control plane (security headers, auth routes, login page, health).

import { createServer as createHttpServer } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayConfig, RoleRules } from '../config/types.js';
import type { Audit } from '../audit/audit.js';
import { nextRequestId } from '../audit/request-id.js';
import type { LoginService } from '../identity/login.js';
import type { OidcLogin } from '../identity/oidc/oidc-login.js';
import type { IdentityResolver } from '../identity/resolver.js';
import type { SessionService } from '../identity/sessions.js';
import type { UserDirectory } from '../identity/user-directory.js';
import { TLS_SERVER_PROFILE } from '../tls/profile.js';
import { secureContextOptions, type TlsMaterial } from '../tls/material.js';
import type { ResumedCertificateCheck } from '../tls/resumed-peer-check.js';
import { GatewayError } from '../errors.js';
import type { StateStore } from '../state/store.js';
import { accountRoutes } from './account-routes.js';
import { authRoutes } from './auth-routes.js';
import { enrolRoutes } from './enrol-routes.js';
import { assetRoutes } from './pages/assets.js';
import { securityHeaders } from './security-headers.js';
import { dicomwebMounts } from './dicomweb-guard.js';
import { createEdgeServer, type EdgeServer } from './edge/edge-server.js';
import { healthRoutes, type ReadinessCheck } from './health-routes.js';
import { replyError } from './reply-error.js';
import { ViewerAnswers } from './viewer/viewer-answers.js';
import { viewerRoutes } from './viewer/viewer-routes.js';
import { configPath } from '../config/load.js';

export interface HttpServerDeps {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly audit: Audit;
  readonly tls: TlsMaterial;
  readonly login: LoginService;
  readonly sessions: SessionService;
  readonly users: UserDirectory;
  readonly identity: IdentityResolver;
  readonly roles: () => Readonly<Record<string, RoleRules>>;
  readonly readiness: readonly ReadinessCheck[];
  readonly clock: () => number;
  /** Enrolment and account pages keep their short-lived state here. */
  readonly store: StateStore;
  /** The DICOM port as bound (shown in the account page's storescu line). */
  readonly dicomPort?: () => number;
  /** auth.oidc: sign-in through the hospital's IdP. */
  readonly oidc?: OidcLogin;
  /** Re-checks the client certificate of a resumed TLS session; without it a resumed certificate is not trusted. */
  readonly recheckPeer?: ResumedCertificateCheck;
  /** Session-ticket lifetime in seconds (tls.tickets); node's default 300 s when absent. */
  readonly sessionTimeout?: number;
}

/** The WADO-URI upstream: `upstream.wadoUri`, else `/wado` on the DICOMweb upstream's origin (Orthanc's default). */
function wadoUriOf(config: GatewayConfig): string {
  return config.upstream.wadoUri ?? `${new URL(config.upstream.dicomweb).origin}/wado`;
}

export interface HttpServer {
  /** The control plane (login, logout, health), reached only through the edge. */
  readonly app: FastifyInstance;
  /** The HTTPS listener. */
  readonly edge: EdgeServer;
}

/** Keep-alive connections (client side and to the PACS) idle longer than this are closed. */
const KEEP_ALIVE_MS = 30_000;

export async function buildHttpServer(deps: HttpServerDeps): Promise<HttpServer> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger.child({ channel: 'http' }),
    // Plain HTTP over in-process connections from the edge, which terminates TLS (./edge/).
    serverFactory: (handler) => createHttpServer(handler),
    // The client address is the edge's (client-address.ts): the in-process connection reports it as
    // the socket's remoteAddress for each request, so req.ip is never derived from headers here.
    trustProxy: false,
    bodyLimit: config.http.bodyLimitBytes,
    // A client's X-Request-Id is not trusted; every exchange gets the gateway's own id (the edge's for DICOMweb).
    requestIdHeader: false,
    genReqId: () => nextRequestId(),
    // Audit events replace per-request access lines (one event per decision, not two log lines per request).
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    connectionTimeout: 0,
    keepAliveTimeout: KEEP_ALIVE_MS,
    routerOptions: { maxParamLength: 1024 },
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('strict-transport-security', 'max-age=31536000');
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { statusCode?: number; code?: string };
    if (err instanceof GatewayError) return replyError(reply, err);
    const status = e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (status === 500) req.log.error({ err: { message: e.message, code: e.code } }, 'request failed');
    return reply.code(status).send({ statusCode: status, error: e.code ?? 'ERR_BAD_REQUEST', message: status === 500 ? 'internal error' : e.message });
  });
  app.setNotFoundHandler((_req, reply) => replyError(reply, new GatewayError('ERR_ROUTE_REFUSED', 'Not found')));

  const authDeps = { sessions: deps.sessions, users: deps.users, identity: deps.identity, cookieName: config.session.cookieName };
  await securityHeaders(app as unknown as FastifyInstance); // on the root: every route below gets the headers
  await app.register(assetRoutes);
  // One scope: the account and enrolment forms share auth-routes' body parsers and cross-site refusal.
  await app.register(async (scope) => {
    await authRoutes(scope, {
      ...authDeps, login: deps.login, audit: deps.audit, idleMinutes: config.session.idleMinutes, clock: deps.clock, local: config.auth.local,
      ...(deps.oidc === undefined || config.auth.oidc === undefined ? {} : { oidc: { login: deps.oidc, redirectUrl: config.auth.oidc.redirectUrl } }),
    });
    await enrolRoutes(scope, { users: deps.users, sessions: deps.sessions, store: deps.store, audit: deps.audit, cookieName: config.session.cookieName, clock: deps.clock, local: config.auth.local });
    await accountRoutes(scope, {
      ...authDeps, login: deps.login, store: deps.store, audit: deps.audit, idleMinutes: config.session.idleMinutes, dicomPort: deps.dicomPort ?? (() => config.listen.dicom.port), clock: deps.clock,
      ...(deps.oidc === undefined ? {} : { idpName: deps.oidc.name }),
    });
  });
  await app.register(async (scope) => healthRoutes(scope, deps.readiness));
  const viewerAnswers = config.viewer.enabled ? new ViewerAnswers() : undefined;
  if (config.viewer.enabled) await app.register(async (scope) => viewerRoutes(scope, { ...authDeps, root: configPath(config, config.viewer.path), logger: deps.logger, answers: viewerAnswers }));
  await app.ready();
  const edge = createEdgeServer({
    tls: {
      ...TLS_SERVER_PROFILE,
      ...secureContextOptions(deps.tls),
      ...(deps.sessionTimeout === undefined ? {} : { sessionTimeout: deps.sessionTimeout }),
      requestCert: true,
      rejectUnauthorized: false, // browsers log in without a certificate; presented ones are checked in authenticate()
    },
    mounts: dicomwebMounts(config.upstream.dicomweb, wadoUriOf(config)),
    guard: { ...authDeps, audit: deps.audit, roles: deps.roles },
    trustProxy: config.http.trustProxy,
    controlPlane: (socket) => { app.server.emit('connection', socket); },
    ...(viewerAnswers === undefined ? {} : { viewer: { answers: viewerAnswers, auth: authDeps } }),
    logger: deps.logger.child({ channel: 'http' }),
    upstreamTimeoutMs: config.upstream.timeoutMs,
    keepAliveMs: KEEP_ALIVE_MS,
    upstreamConnections: 128,
    // Behind a load balancer (trustProxy) every connection comes from the balancer: no per-address cap.
    http2: config.http.http2,
    ...(deps.recheckPeer === undefined ? {} : { recheckPeer: deps.recheckPeer }),
    connectionCaps: { maxConnections: config.http.maxConnections, maxPerAddress: config.http.trustProxy ? 0 : config.http.maxConnectionsPerAddress },
  });
  return { app: app as unknown as FastifyInstance, edge };
}
