// Finds where an HTTP/1.1 message body ends without copying it: the bytes pass through unchanged.
//
// feed(chunk) says how many leading bytes of `chunk` belong to the body; what follows belongs to the
// next message. The chunked framer checks the chunked syntax strictly (RFC 9112 §7.1) so that both
// ends of a forwarded connection agree on where a message ends.

export interface FeedResult {
  /** Bytes of `chunk`, from its start, that belong to this body. */
  readonly used: number;
  /** The body is complete. */
  readonly done: boolean;
  /** The body's framing is malformed (set only with done = true). */
  readonly error?: string;
}

export interface BodyFramer {
  feed(chunk: Buffer): FeedResult;
}

/** Exactly `length` bytes. */
export class LengthFramer implements BodyFramer {
  #left: number;

  constructor(length: number) {
    this.#left = length;
  }

  feed(chunk: Buffer): FeedResult {
    const used = Math.min(this.#left, chunk.length);
    this.#left -= used;
    return { used, done: this.#left === 0 };
  }
}

/** Longest chunk-size line (size, extensions) and trailer line accepted. */
const MAX_LINE = 4096;
/** Largest single chunk: 2^52 (hex digits beyond that are refused). */
const MAX_SIZE_DIGITS = 13;

const enum S { Size, SizeExt, SizeLf, Data, DataCr, DataLf, Trailer, TrailerLf, LastLf }

const CR = 0x0d;
const LF = 0x0a;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Transfer-Encoding: chunked, with trailers. */
export class ChunkedFramer implements BodyFramer {
  /**
   * Strict (request bodies on their way to the PACS): no chunk extensions and no trailers. A PACS
   * that does not parse them could take their bytes for something else, e.g. a trailer line for
   * the next request, which the guard never saw (Orthanc answers 400 to extensions anyway).
   */
  readonly #strict: boolean;
  #state = S.Size;
  #size = 0;
  #digits = 0;
  #line = 0;
  #left = 0;

  constructor(options: { strict?: boolean } = {}) {
    this.#strict = options.strict === true;
  }

  feed(chunk: Buffer): FeedResult {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#state === S.Data) {
        const take = Math.min(this.#left, n - i);
        i += take;
        this.#left -= take;
        if (this.#left === 0) this.#state = S.DataCr;
        continue;
      }
      const c = chunk[i] ?? 0;
      i++;
      switch (this.#state) {
        case S.Size: {
          const h = hexValue(c);
          if (h >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) return this.#fail(i, 'chunk size too large');
            this.#size = this.#size * 16 + h;
          } else if (this.#digits === 0) {
            return this.#fail(i, 'malformed chunk size');
          } else if (c === 0x3b) {
            if (this.#strict) return this.#fail(i, 'chunk extensions are not accepted');
            this.#state = S.SizeExt;
            this.#line = 0;
          } else if (c === CR) {
            this.#state = S.SizeLf;
          } else {
            return this.#fail(i, 'malformed chunk size');
          }
          break;
        }
        case S.SizeExt:
          if (c === CR) this.#state = S.SizeLf;
          else if (c === LF || c < 0x20 || c === 0x7f || ++this.#line > MAX_LINE) return this.#fail(i, 'malformed chunk extension');
          break;
        case S.SizeLf:
          if (c !== LF) return this.#fail(i, 'chunk size line not ended by CRLF');
          if (this.#size === 0) {
            this.#state = S.Trailer;
            this.#line = 0;
          } else {
            this.#left = this.#size;
            this.#state = S.Data;
          }
          this.#size = 0;
          this.#digits = 0;
          break;
        case S.DataCr:
          if (c !== CR) return this.#fail(i, 'chunk data not followed by CRLF');
          this.#state = S.DataLf;
          break;
        case S.DataLf:
          if (c !== LF) return this.#fail(i, 'chunk data not followed by CRLF');
          this.#state = S.Size;
          break;
        case S.Trailer:
          // Start of a trailer line, or of the final CRLF.
          if (c === CR && this.#line === 0) this.#state = S.LastLf;
          else if (this.#strict) return this.#fail(i, 'trailers are not accepted');
          else if (c === CR) this.#state = S.TrailerLf;
          else if (c === LF || ++this.#line > MAX_LINE) return this.#fail(i, 'malformed trailer');
          break;
        case S.TrailerLf:
          if (c !== LF) return this.#fail(i, 'malformed trailer');
          this.#state = S.Trailer;
          this.#line = 0;
          break;
        case S.LastLf:
          if (c !== LF) return this.#fail(i, 'chunked body not ended by CRLF');
          return { used: i, done: true };
        default:
          return this.#fail(i, 'chunked framer in a bad state');
      }
    }
    return { used: n, done: false };
  }

  #fail(used: number, error: string): FeedResult {
    return { used, done: true, error };
  }
}
