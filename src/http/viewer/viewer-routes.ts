// /viewer/: the OHIF viewer's files, only with a session; without one, to /login and back.

import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { authenticate, authInputOf, type AuthInput, type HttpAuthDeps } from '../authenticate.js';
import { localNext } from '../local-next.js';
import { viewerAppConfig } from './app-config.js';
import { loadViewerBundle, type ViewerBundle } from './viewer-bundle.js';
import type { ViewerAnswers } from './viewer-answers.js';
import { ViewerCache, type CachedFile } from './viewer-cache.js';

export const VIEWER_PREFIX = '/viewer';

export interface ViewerRouteDeps extends HttpAuthDeps {
  /** Absolute directory of the build (viewer.path resolved). */
  readonly root: string;
  readonly logger: Logger;
  /** Where the file answers sent from memory are kept for the HTTP/2 edge (viewer-answers.ts). */
  readonly answers?: ViewerAnswers | undefined;
}

/**
 * The viewer's CSP: scripts only from this origin and index.html's own inline scripts (by hash),
 * WebAssembly for the image decoders, data only from this origin (the DICOMweb it reads).
 */
function contentSecurityPolicy(bundle: ViewerBundle): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval' ${bundle.inlineScriptHashes.join(' ')}`.trim(),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self' data: blob:",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * A file whose name carries its content hash (webpack's `1180.bundle.762993518ea30ae3.js`, `0ddf166f7a343eda.wasm`):
 * another content gets another name, so the browser may keep it for good. Only OHIF's code, never patient data.
 */
const CONTENT_HASHED = /(?:^|\/|\.)[0-9a-f]{16}\.(?:js|wasm|woff2?|css)$/;

function headers(reply: FastifyReply, csp: string | undefined, rel?: string): FastifyReply {
  // Revalidated on every use, so a signed-out browser gets the redirect rather than a cached copy; the
  // content-hashed files are kept (index.html, which names them, is still revalidated with the session).
  const cache = rel !== undefined && CONTENT_HASHED.test(rel) ? 'private, max-age=31536000, immutable' : 'private, no-cache';
  reply.header('cache-control', cache).header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer');
  if (csp !== undefined) reply.header('content-security-policy', csp);
  return reply;
}

/** A path below /viewer/ that names a file (its last segment has an extension), not an app route. */
function looksLikeFile(rel: string): boolean {
  return /\.[A-Za-z0-9]+$/.test(rel.slice(rel.lastIndexOf('/') + 1));
}

/** Whether Accept-Encoding takes gzip (by name or `*`, with a q above 0). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const text = Array.isArray(header) ? header.join(',') : header ?? '';
  return text.split(',').some((part) => {
    const [name, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (name !== 'gzip' && name !== '*') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/** If-None-Match names this validator (or `*`): the browser's copy is current. */
export function notModified(header: string | string[] | undefined, etag: string): boolean {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (text === undefined) return false;
  return text.split(',').some((t) => { const v = t.trim().replace(/^W\//, ''); return v === etag || v === '*'; });
}

/** Answers being sent from memory, for the onSend hook that records them (viewer-answers.ts). */
const fromMemory = new WeakMap<FastifyRequest, { readonly rel: string; readonly gzip: boolean; readonly file: CachedFile }>();

/** One of the build's files, from memory when the cache keeps it (else streamed by @fastify/static). */
async function sendBuildFile(req: FastifyRequest, reply: FastifyReply, cache: ViewerCache, rel: string, csp: string | undefined): Promise<FastifyReply> {
  const gzip = acceptsGzip(req.headers['accept-encoding']);
  const f = await cache.get(rel, gzip);
  if (f === undefined) return headers(reply, csp, rel).sendFile(rel);
  // The headers @fastify/static sends with preCompressed (Vary even for the plain file: the choice depended on it).
  headers(reply, csp, rel).header('content-type', f.type).header('etag', f.etag).header('last-modified', f.lastModified).header('vary', 'accept-encoding');
  if (f.encoding !== undefined) reply.header('content-encoding', f.encoding);
  if (notModified(req.headers['if-none-match'], f.etag)) return reply.code(304).send();
  fromMemory.set(req, { rel, gzip, file: f });
  return reply.send(f.body);
}

/** Whether a request may have the viewer's files: it carries a valid session (a certificate alone is not enough). Also the HTTP/2 edge's check. */
export async function viewerSession(input: AuthInput, deps: HttpAuthDeps): Promise<boolean> {
  try {
    return (await authenticate(input, deps)).session !== undefined;
  } catch {
    return false;
  }
}

export async function viewerRoutes(app: FastifyInstance, deps: ViewerRouteDeps): Promise<void> {
  const loaded = loadViewerBundle(deps.root);
  if (!loaded.ok) deps.logger.warn({ problem: loaded.problem }, 'viewer unavailable: /viewer/ answers 503');
  const bundle = loaded.ok ? loaded.bundle : undefined;
  const csp = bundle === undefined ? undefined : contentSecurityPolicy(bundle);
  const appConfig = viewerAppConfig({ basename: VIEWER_PREFIX, dicomweb: '/dicom-web', wadoUri: '/wado' });
  // preCompressed: a file's gzip copy (name.gz, made by scripts/fetch-viewer.sh) goes to a browser that accepts gzip,
  // with Content-Encoding and Vary: Accept-Encoding; a file without one is sent as it is.
  if (bundle !== undefined) await app.register(fastifyStatic, { root: bundle.root, serve: false, cacheControl: false, dotfiles: 'deny', preCompressed: true });
  const cache = bundle === undefined ? undefined : new ViewerCache(bundle.root);
  const answers = deps.answers;
  // Once every other hook has set its headers (this scope's onSend runs after the root's): the answer as it leaves.
  if (answers !== undefined) {
    app.addHook('onSend', async (req, reply, payload) => {
      const m = fromMemory.get(req);
      if (m !== undefined && reply.statusCode === 200 && payload === m.file.body) answers.record(m.rel, m.gzip, reply.getHeaders(), m.file.body, m.file.etag);
      return payload;
    });
  }

  app.get(VIEWER_PREFIX, async (_req, reply) => reply.redirect(`${VIEWER_PREFIX}/`, 301));
  app.get<{ Params: { '*': string } }>(`${VIEWER_PREFIX}/*`, async (req, reply) => {
    if (!(await viewerSession(authInputOf(req), deps))) {
      const back = localNext(req.url);
      return headers(reply, undefined).redirect(`/login${back === '/' ? '' : `?next=${encodeURIComponent(back)}`}`, 302);
    }
    if (bundle === undefined) {
      return headers(reply, undefined).code(503).type('text/plain; charset=utf-8')
        .send('The viewer is not installed on this gateway. Ask your administrator (README "Viewer").\n');
    }
    const rel = req.params['*'];
    if (rel === 'app-config.js') return headers(reply, csp).type('text/javascript; charset=utf-8').send(appConfig);
    if (bundle.files.has(rel)) return sendBuildFile(req, reply, cache as ViewerCache, rel, csp);
    if (looksLikeFile(rel)) return headers(reply, undefined).code(404).type('text/plain; charset=utf-8').send('Not found\n');
    // Any other path is one of the viewer's own routes (study list, /viewer/viewer?…): its page.
    return sendBuildFile(req, reply, cache as ViewerCache, 'index.html', csp);
  });
}
