// The viewer's files on an HTTP/2 stream, answered by the edge itself when the control plane has
// already sent that file from memory (viewer/viewer-answers.ts): the same session check as the
// route's, then the control plane's own recorded headers and the cached body. Anything else — no
// recorded answer, a query string, an encoded or unusual path, no session, an error — goes to the
// control plane as before, which answers it (a redirect to /login without a session).
//
// Why: a cold open of a study asks for ~50 app files at once; through the control plane each is an
// HTTP/1.1 request over an in-process connection, ~10 ms more to its first byte than nginx
// (docs/benchmarks.md, "The viewer's files").

import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { Logger } from 'pino';
import type { AuthInput } from '../../authenticate.js';
import type { RecordedAnswer } from '../../viewer/viewer-answers.js';
import { acceptsGzip, notModified, VIEWER_PREFIX, viewerSession } from '../../viewer/viewer-routes.js';
import type { EdgeContext } from '../edge-connection.js';
import type { H2Request } from './h2-request-head.js';

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

/** The recorded answer this request would get with a session, or undefined: the control plane's turn. */
export function viewerRequest(req: H2Request, viewer: NonNullable<EdgeContext['viewer']>, client: { readonly address: string; readonly peer: AuthInput['tls'] }): ViewerRequest | undefined {
  const { head } = req;
  if ((head.method !== 'GET' && head.method !== 'HEAD') || req.hasBody) return undefined;
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

/** Checks the session and sends the answer; false (nothing sent) when the control plane must answer instead. */
export async function sendViewerAnswer(stream: ServerHttp2Stream, r: ViewerRequest, viewer: NonNullable<EdgeContext['viewer']>, logger: Logger): Promise<boolean> {
  if (!(await viewerSession(r.input, viewer.auth))) return false;
  if (stream.destroyed || stream.closed) return true;
  const { answer } = r;
  const unchanged = notModified(r.ifNoneMatch, answer.etag);
  const headers: OutgoingHttpHeaders = unchanged
    ? { ...answer.headers, ':status': 304 }
    : { ...answer.headers, ':status': 200, 'content-length': answer.body.length };
  try {
    stream.respond(headers, { endStream: unchanged || r.head });
  } catch {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return true;
  }
  if (!unchanged && !r.head) stream.end(answer.body);
  logger.debug({ source: r.input.ip, path: r.path, status: unchanged ? 304 : 200 }, 'viewer file answered by the edge');
  return true;
}
