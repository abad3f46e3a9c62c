// A bounds-checked cursor over a buffer: every read names its field and checks the length first.

import { PduError } from './pdu-error.js';

/** Reads fixed-size fields from a buffer; a read past the end throws PduError naming the field. */
export class ByteReader {
  readonly #buf: Buffer;
  readonly #context: string;
  #pos: number;
  readonly #end: number;

  /** `context` prefixes error messages, e.g. "A-ASSOCIATE-RQ presentation context item". */
  constructor(buf: Buffer, context: string, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#context = context;
    this.#pos = start;
    this.#end = end;
  }

  get remaining(): number { return this.#end - this.#pos; }
  get position(): number { return this.#pos; }

  #need(n: number, field: string): number {
    if (n < 0 || this.#end - this.#pos < n) {
      throw new PduError(`${this.#context}: ${field} needs ${n} bytes but only ${this.#end - this.#pos} remain`);
    }
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  u8(field: string): number { return this.#buf.readUInt8(this.#need(1, field)); }
  u16be(field: string): number { return this.#buf.readUInt16BE(this.#need(2, field)); }
  u32be(field: string): number { return this.#buf.readUInt32BE(this.#need(4, field)); }
  u16le(field: string): number { return this.#buf.readUInt16LE(this.#need(2, field)); }
  u32le(field: string): number { return this.#buf.readUInt32LE(this.#need(4, field)); }

  /** The next `n` bytes as a view (no copy). */
  bytes(n: number, field: string): Buffer {
    const at = this.#need(n, field);
    return this.#buf.subarray(at, at + n);
  }

  skip(n: number, field: string): void { this.#need(n, field); }

  /** A reader over the next `n` bytes, advancing this one past them. */
  sub(n: number, field: string, context = `${this.#context} ${field}`): ByteReader {
    const at = this.#need(n, field);
    return new ByteReader(this.#buf, context, at, at + n);
  }
}
