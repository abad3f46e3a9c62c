// The viewer's files, answered by the edge itself (over HTTP/2 and HTTP/1.1) when the control plane
// has already sent that file from memory (viewer/viewer-answers.ts): the same session check as the
// route's, then the control plane's own recorded headers and the cached body. Anything else — no
// recorded answer, a query string, an encoded or unusual path, a request body, no session, an error —
// goes to the control plane as before, which answers it (a redirect to /login without a session).
//
// Why: a cold open of a study asks for ~50 app files at once; through the control plane each is an
// HTTP/1.1 request over an in-process connection, ~10 ms more to its first byte than nginx over
// HTTP/2 (docs/benchmarks.md, "The viewer's files").

import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import type { AuthInput, HttpAuthDeps } from '../authenticate.js';
import type { RecordedAnswer, ViewerAnswers } from '../viewer/viewer-answers.js';
import { acceptsGzip, notModified, VIEWER_PREFIX, viewerSession } from '../viewer/viewer-routes.js';
import type { RequestHead } from './request-head.js';

/** What the edge needs to answer the viewer's files (EdgeContext.viewer). */
export interface ViewerFiles {
  readonly answers: ViewerAnswers;
  readonly auth: HttpAuthDeps;
}

/**
 * `/viewer/<file>` with only plain segments (letters, digits, `.`, `_`, `-`; none starting with a dot): what
 * the router hands the route unchanged, so the recorded answer of that name is the one the route would send.
 */
const PLAIN_FILE = new RegExp(`^${VIEWER_PREFIX}/([A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*)$`);

export interface ViewerRequest {
  readonly answer: RecordedAnswer;
  readonly input: AuthInput;
  readonly ifNoneMatch: string | undefined;
  readonly head: boolean;
  readonly path: string;
}

/** An answer ready to send: 200 with the body, or 304 without. */
export interface ViewerFileAnswer {
  readonly status: 200 | 304;
  readonly headers: Readonly<Record<string, string | string[]>>;
  /** undefined: no content (304, or a HEAD request). */
  readonly body: Buffer | undefined;
  /** The representation's length (Content-Length of a 200, HEAD included). */
  readonly length: number;
}

/** The recorded answer this request would get with a session, or undefined: the control plane's turn. */
export function viewerRequest(head: RequestHead, hasBody: boolean, viewer: ViewerFiles, client: { readonly address: string; readonly peer: AuthInput['tls'] }): ViewerRequest | undefined {
  if ((head.method !== 'GET' && head.method !== 'HEAD') || hasBody) return undefined;
  const m = PLAIN_FILE.exec(head.target);
  if (m === null) return undefined;
  let acceptEncoding: string | undefined;
  let cookie: string | undefined;
  let authorization: string | undefined;
  let ifNoneMatch: string | undefined;
  for (const [k, v] of head.headers) {
    if (k === 'accept-encoding') acceptEncoding = acceptEncoding === undefined ? v : `${acceptEncoding}, ${v}`;
    // HTTP/2 clients send one Cookie field per pair (RFC 9113 §8.2.3): joined as HTTP/1.1 carries them.
    else if (k === 'cookie') cookie = cookie === undefined ? v : `${cookie}; ${v}`;
    else if (k === 'if-none-match') ifNoneMatch = ifNoneMatch === undefined ? v : `${ifNoneMatch}, ${v}`;
    // Two Authorization fields: the control plane's parser decides what that means.
    else if (k === 'authorization') { if (authorization !== undefined) return undefined; authorization = v; }
  }
  const answer = viewer.answers.get(m[1] as string, acceptsGzip(acceptEncoding));
  if (answer === undefined) return undefined;
  return { answer, input: { authorization, cookie, ip: client.address, tls: client.peer }, ifNoneMatch, head: head.method === 'HEAD', path: head.target };
}

/** Checks the session; the answer to send, or undefined when the control plane must answer instead (no valid session). */
export async function viewerFileAnswer(r: ViewerRequest, viewer: ViewerFiles, logger: Logger): Promise<ViewerFileAnswer | undefined> {
  if (!(await viewerSession(r.input, viewer.auth))) return undefined;
  const { answer } = r;
  const unchanged = notModified(r.ifNoneMatch, answer.etag);
  logger.debug({ source: r.input.ip, path: r.path, status: unchanged ? 304 : 200 }, 'viewer file answered by the edge');
  return {
    status: unchanged ? 304 : 200, headers: answer.headers,
    body: unchanged || r.head ? undefined : answer.body, length: answer.body.length,
  };
}

/** The answer as an HTTP/1.1 response head (`close`: the connection ends after it). */
export function h1ViewerHead(a: ViewerFileAnswer, close: boolean): Buffer {
  let head = `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status] ?? ''}\r\n`;
  for (const [k, v] of Object.entries(a.headers)) {
    if (typeof v === 'string') head += `${k}: ${v}\r\n`;
    else for (const one of v) head += `${k}: ${one}\r\n`;
  }
  head += `date: ${new Date().toUTCString()}\r\n`;
  if (a.status === 200) head += `content-length: ${String(a.length)}\r\n`;
  head += close ? 'connection: close\r\n\r\n' : 'connection: keep-alive\r\n\r\n';
  return Buffer.from(head, 'latin1');
}
