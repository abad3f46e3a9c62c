// A viewer file the edge answers itself (../viewer-files.ts), on an HTTP/2 stream.

import { constants, type ServerHttp2Stream } from 'node:http2';
import type { ViewerFileAnswer } from '../viewer-files.js';

export function respondViewerFile(stream: ServerHttp2Stream, a: ViewerFileAnswer): void {
  if (stream.destroyed || stream.closed) return;
  try {
    stream.respond(
      a.status === 200 ? { ...a.headers, ':status': 200, 'content-length': a.length } : { ...a.headers, ':status': a.status },
      { endStream: a.body === undefined },
    );
  } catch {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (a.body !== undefined) stream.end(a.body);
}
