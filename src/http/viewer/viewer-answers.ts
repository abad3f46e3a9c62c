// The viewer's file answers as the control plane sent them, kept so that the HTTP/2 edge can send the same
// answer again without a round trip through the control plane (edge/h2/h2-viewer.ts).
//
// Only answers the control plane sent from memory (viewer-cache.ts) are kept: a file of the build, 200,
// its body a Buffer the cache already holds (no copy). The headers are the control plane's own, as
// they stood once every hook had run (helmet, the root's security headers, the viewer's CSP and
// caching): the edge adds none of its own, so there is one place that says what a viewer file's
// headers are. What decides whether the answer may be sent — a session — is checked by the edge
// with the same function the route uses (viewer-routes.ts viewerSession), on every request.

export interface RecordedAnswer {
  /** The control plane's headers, without the ones the sender writes itself (Date, Content-Length, hop-by-hop). */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: Buffer;
  readonly etag: string;
}

/** Headers not kept: written per answer by whoever sends it, or meaningful on one connection only. */
const NOT_KEPT = new Set(['date', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'set-cookie']);

export class ViewerAnswers {
  readonly #answers = new Map<string, RecordedAnswer>();

  /** The answer recorded for file `rel` of the build in the representation `gzip` asks for, if any. */
  get(rel: string, gzip: boolean): RecordedAnswer | undefined {
    return this.#answers.get(key(rel, gzip));
  }

  /** Keeps the answer the control plane is sending for `rel` (first one wins: the build does not change while the gateway runs). */
  record(rel: string, gzip: boolean, headers: Readonly<Record<string, string | number | readonly string[] | undefined>>, body: Buffer, etag: string): void {
    const k = key(rel, gzip);
    if (this.#answers.has(k)) return;
    const kept: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(headers)) {
      const n = name.toLowerCase();
      if (value === undefined || NOT_KEPT.has(n)) continue;
      kept[n] = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : [...value];
    }
    this.#answers.set(k, { headers: kept, body, etag });
  }

  get size(): number { return this.#answers.size; }
}

function key(rel: string, gzip: boolean): string {
  return `${gzip ? 'gzip' : 'identity'}:${rel}`;
}
