// The viewer's files in memory: each read once, then sent from memory (its gzip copy to a browser that takes gzip).
//
// A cold open of a study asks for ~50 of OHIF's files at once. Streamed from disk, each costs several
// thread-pool round trips (stat of the .br and .gz candidates, open, reads, close) before its first
// byte; from memory it costs none (docs/benchmarks.md, "The viewer's files"). Only files of the types
// below and up to MAX_FILE_BYTES are kept, up to a total of `maxBytes`; anything else is streamed
// by the caller as before. The build does not change while the gateway runs (it is read at start-up).

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** Content types of the files kept (everything else is streamed, typed by @fastify/static). */
const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** Larger files are streamed (OHIF's largest app file is ~9 MB before gzip, ~2 MB after). */
export const MAX_FILE_BYTES = 8 * 1024 * 1024;
/** Default budget: the compressed copies a cold open needs (~8 MB) many times over. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export interface CachedFile {
  readonly body: Buffer;
  readonly type: string;
  /** 'gzip' when the body is the file's gzip copy. */
  readonly encoding: 'gzip' | undefined;
  /** Strong validator of this representation (the gzip copy has its own). */
  readonly etag: string;
  readonly lastModified: string;
}

export class ViewerCache {
  readonly #root: string;
  readonly #maxBytes: number;
  readonly #files = new Map<string, Promise<CachedFile | undefined>>();
  #bytes = 0;

  constructor(root: string, maxBytes = DEFAULT_CACHE_BYTES) {
    this.#root = root;
    this.#maxBytes = maxBytes;
  }

  /** Bytes held. */
  get bytes(): number { return this.#bytes; }

  /**
   * `rel` (a file of the build, already checked by the caller) as it should be sent: its gzip copy when
   * `gzip` and one exists. Undefined: not kept (a type not listed, too large, over budget, unreadable);
   * the caller streams it.
   */
  get(rel: string, gzip: boolean): Promise<CachedFile | undefined> {
    const type = TYPES[extname(rel).toLowerCase()];
    if (type === undefined) return Promise.resolve(undefined);
    const key = gzip ? `${rel}.gz` : rel;
    let entry = this.#files.get(key);
    if (entry === undefined) {
      entry = this.#load(key, type, gzip).then(async (f) => f ?? (gzip ? this.get(rel, false) : undefined));
      this.#files.set(key, entry);
    }
    return entry;
  }

  async #load(key: string, type: string, gzip: boolean): Promise<CachedFile | undefined> {
    const path = join(this.#root, key);
    let size: number;
    let mtime: Date;
    try {
      ({ size, mtime } = await stat(path));
    } catch {
      return undefined; // no gzip copy (small files have none), or gone: the caller falls back
    }
    if (size > MAX_FILE_BYTES || this.#bytes + size > this.#maxBytes) return undefined;
    this.#bytes += size;
    try {
      const body = await readFile(path);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      return { body, type, encoding: gzip ? 'gzip' : undefined, etag, lastModified: mtime.toUTCString() };
    } catch {
      this.#bytes -= size;
      return undefined;
    }
  }
}
