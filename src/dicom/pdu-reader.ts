// Streaming PDU framer: copes with split and merged chunks, caps lengths before allocating, never buffers P-DATA.

import {
  AbortReason, FIXED_PDU_LENGTH, MessageControl, PDU_HEADER_BYTES, PDU_NAMES, PDV_HEADER_BYTES, PduType,
  type PduTypeValue,
} from './constants.js';
import { PduError } from './pdu-error.js';

/** A PDV item header, PS3.8 §9.3.5.1 and Annex E.2. */
export interface PdvHeader {
  /** Presentation context ID (odd, 1–255). */
  readonly pcId: number;
  /** Message control header byte. */
  readonly control: number;
  readonly isCommand: boolean;
  readonly isLast: boolean;
  /** Length of the fragment that follows (item length − 2). */
  readonly fragmentLength: number;
}

/**
 * What the reader reports. Non-P-DATA PDUs arrive whole (they are small and capped); P-DATA-TF
 * arrives as headers plus fragment slices that are views of the input chunks (zero-copy).
 * A handler may throw PduError to stop the stream; it propagates out of `push`.
 */
export interface PduHandler {
  /** Optional: a PDU header was read, before its length is checked; throw PduError to refuse the type here. */
  onPduHeader?(type: PduTypeValue, length: number): void;
  /** A complete non-P-DATA PDU; `raw` includes the 6-byte header and is the handler's to keep. */
  onPdu(type: PduTypeValue, raw: Buffer): void;
  /** A P-DATA-TF PDU begins; `length` is its PDU-length, `raw` its 6 header bytes (empty without headerViews). */
  onPDataStart(length: number, raw: Buffer): void;
  /** A PDV begins; `raw` is its 6 header bytes (empty without headerViews). */
  onPdv(pdv: PdvHeader, raw: Buffer): void;
  /** Part of the current PDV's fragment (a view of the input; copy it to keep it beyond the call). */
  onFragment(data: Buffer): void;
  /** The current PDV's fragment is complete. */
  onPdvEnd(pdv: PdvHeader): void;
  /** The current P-DATA-TF PDU is complete. */
  onPDataEnd(): void;
}

export interface PduReaderLimits {
  /** Largest A-ASSOCIATE-RQ/AC PDU-length accepted. */
  readonly maxAssociateBytes: number;
  /** Largest P-DATA-TF PDU-length accepted. */
  readonly maxPDataBytes: number;
}

export interface PduReaderOptions {
  /**
   * False: onPDataStart and onPdv get an empty buffer instead of their 6 header bytes, which
   * saves a view object per header for a handler that does not use them (the request filter
   * re-frames what it forwards). Default true.
   */
  readonly headerViews?: boolean;
}

const NO_HEADER = Buffer.alloc(0);

const KNOWN_TYPES = new Set<number>(Object.values(PduType));

type State = 'pdu-header' | 'pdu-body' | 'pdv-header' | 'fragment' | 'failed';

/** Frames a byte stream into PDUs. Feed it with `push(chunk)`; violations throw PduError and end the reader. */
export class PduReader {
  readonly #handler: PduHandler;
  readonly #limits: PduReaderLimits;
  #state: State = 'pdu-header';
  /** Partial header bytes (PDU or PDV header) when a header straddles chunks. */
  #hdr = Buffer.alloc(PDU_HEADER_BYTES);
  #hdrFill = 0;
  #type: PduTypeValue = PduType.AssociateRq;
  /** Non-P-DATA PDU being assembled (header included). */
  #body: Buffer | undefined;
  #bodyFill = 0;
  /** Bytes of the current P-DATA-TF PDU not yet consumed. */
  #pduRemaining = 0;
  #pdv: PdvHeader | undefined;
  #fragmentRemaining = 0;
  #bytesIn = 0;
  /** End of the valid bytes of the chunk being consumed. */
  #end = 0;
  /** Where the header that the last #collect completed is: a buffer and an offset (undefined while incomplete). */
  #rawSrc: Buffer | undefined;
  #rawAt = 0;
  /** Whether handlers get P-DATA-TF and PDV headers as buffers (see PduReaderOptions). */
  readonly #headerViews: boolean;
  /** Set by halt(): nothing more is read or reported. */
  #halted = false;
  #discarded = 0;

  constructor(handler: PduHandler, limits: PduReaderLimits, options: PduReaderOptions = {}) {
    this.#handler = handler;
    this.#limits = limits;
    this.#headerViews = options.headerViews ?? true;
  }

  /** True between PDUs (nothing partial buffered). */
  get atPduBoundary(): boolean { return this.#state === 'pdu-header' && this.#hdrFill === 0; }
  /** Total bytes pushed so far. */
  get bytesIn(): number { return this.#bytesIn; }
  /** Bytes pushed after halt() (the rest of the chunk being read, and every later chunk), never read. */
  get discarded(): number { return this.#discarded; }

  /**
   * Stops reading for good: once the handler that is running returns, no further PDU or P-DATA
   * event is reported, and whatever is pushed is only counted (see `discarded`). For a handler
   * that ends the stream (the association is over) while the rest of a chunk is still unread.
   */
  halt(): void { this.#halted = true; }

  /**
   * Consumes one chunk (its first `length` bytes). Throws PduError on a protocol violation; the
   * reader then refuses further input.
   */
  push(chunk: Buffer, length = chunk.length): void {
    const end = Math.min(length, chunk.length);
    if (this.#halted) {
      this.#discarded += end;
      return;
    }
    if (this.#state === 'failed') throw new PduError('PDU stream already failed', AbortReason.NotSpecified);
    this.#bytesIn += end;
    this.#end = end;
    try {
      let off = 0;
      while (off < end && !this.#halted) off = this.#step(chunk, off);
      if (this.#halted) {
        this.#discarded += end - off;
        return;
      }
      // A PDV or PDU that ends exactly at a chunk end is closed here (zero-length tails included).
      this.#settle();
    } catch (err) {
      this.#state = 'failed';
      throw err;
    } finally {
      // No view of the chunk outlives the call (it may be a reused buffer, see socket-read.ts).
      this.#rawSrc = undefined;
    }
  }

  #step(chunk: Buffer, off: number): number {
    switch (this.#state) {
      case 'pdu-header': return this.#readPduHeader(chunk, off);
      case 'pdu-body': return this.#readBody(chunk, off);
      case 'pdv-header': return this.#readPdvHeader(chunk, off);
      case 'fragment': return this.#readFragment(chunk, off);
      default: throw new PduError('PDU stream already failed', AbortReason.NotSpecified);
    }
  }

  /**
   * Collects `size` header bytes; returns the new offset, and leaves where the complete header
   * is in `#rawSrc` / `#rawAt` (`#rawSrc` undefined while incomplete).
   */
  #collect(chunk: Buffer, off: number, size: number): number {
    const end = this.#end;
    if (this.#hdrFill === 0 && end - off >= size) {
      this.#rawSrc = chunk;
      this.#rawAt = off;
      return off + size;
    }
    const n = Math.min(size - this.#hdrFill, end - off);
    chunk.copy(this.#hdr, this.#hdrFill, off, off + n);
    this.#hdrFill += n;
    if (this.#hdrFill < size) {
      this.#rawSrc = undefined;
      return off + n;
    }
    this.#rawSrc = this.#hdr;
    this.#rawAt = 0;
    // A fresh buffer for the next header: handlers may keep `raw` (e.g. queued for a socket write).
    if (this.#headerViews) this.#hdr = Buffer.alloc(PDU_HEADER_BYTES);
    this.#hdrFill = 0;
    return off + n;
  }

  /** The collected header as a buffer for a handler (a view, or the header buffer itself). */
  #raw(src: Buffer, size: number): Buffer {
    if (src === this.#hdr || (this.#rawAt === 0 && src.length === size)) return src;
    return src.subarray(this.#rawAt, this.#rawAt + size);
  }

  #readPduHeader(chunk: Buffer, off: number): number {
    // Unknown PDU types are refused on their first byte, before a length is even read.
    if (this.#hdrFill === 0) {
      const type = chunk.readUInt8(off);
      if (!KNOWN_TYPES.has(type)) {
        throw new PduError(`unrecognized PDU type 0x${type.toString(16).padStart(2, '0')}`, AbortReason.UnrecognizedPdu);
      }
    }
    const next = this.#collect(chunk, off, PDU_HEADER_BYTES);
    const src = this.#rawSrc;
    if (src === undefined) return next;
    const at = this.#rawAt;
    const type = src.readUInt8(at) as PduTypeValue;
    const length = src.readUInt32BE(at + 2);
    const name = PDU_NAMES[type] ?? 'PDU';
    this.#type = type;
    this.#handler.onPduHeader?.(type, length);
    if (this.#halted) return next;
    switch (type) {
      case PduType.AssociateRq:
      case PduType.AssociateAc:
        if (length > this.#limits.maxAssociateBytes) {
          throw new PduError(`${name} PDU-length ${length} exceeds the limit of ${this.#limits.maxAssociateBytes} bytes`);
        }
        break;
      case PduType.PData:
        if (length > this.#limits.maxPDataBytes) {
          throw new PduError(`P-DATA-TF PDU-length ${length} exceeds the limit of ${this.#limits.maxPDataBytes} bytes`);
        }
        // PS3.8 §9.3.5: at least one PDV item (4-byte length + context ID + control header).
        if (length < PDV_HEADER_BYTES) throw new PduError(`P-DATA-TF PDU-length ${length} cannot hold a PDV item`);
        this.#pduRemaining = length;
        this.#state = 'pdv-header';
        this.#handler.onPDataStart(length, this.#headerViews ? this.#raw(src, PDU_HEADER_BYTES) : NO_HEADER);
        return next;
      default:
        // PS3.8 §9.3.4, §9.3.6–9.3.8: these PDUs have the fixed length 4.
        if (length !== FIXED_PDU_LENGTH) throw new PduError(`${name} PDU-length must be 4, got ${length}`);
    }
    this.#body = Buffer.allocUnsafe(PDU_HEADER_BYTES + length);
    src.copy(this.#body, 0, at, at + PDU_HEADER_BYTES);
    this.#bodyFill = PDU_HEADER_BYTES;
    this.#state = 'pdu-body';
    return next;
  }

  #readBody(chunk: Buffer, off: number): number {
    const body = this.#body as Buffer;
    const n = Math.min(body.length - this.#bodyFill, this.#end - off);
    chunk.copy(body, this.#bodyFill, off, off + n);
    this.#bodyFill += n;
    if (this.#bodyFill === body.length) this.#finishBody();
    return off + n;
  }

  #finishBody(): void {
    const body = this.#body as Buffer;
    this.#body = undefined;
    this.#bodyFill = 0;
    this.#state = 'pdu-header';
    this.#handler.onPdu(this.#type, body);
  }

  #readPdvHeader(chunk: Buffer, off: number): number {
    const next = this.#collect(chunk, off, PDV_HEADER_BYTES);
    const src = this.#rawSrc;
    if (src === undefined) return next;
    const at = this.#rawAt;
    this.#pduRemaining -= PDV_HEADER_BYTES;
    const itemLength = src.readUInt32BE(at);
    // PS3.8 §9.3.5.1: item length covers context ID + control header + fragment.
    if (itemLength < 2) throw new PduError(`PDV item-length ${itemLength} is shorter than its own header`);
    const fragmentLength = itemLength - 2;
    if (fragmentLength > this.#pduRemaining) {
      throw new PduError(`PDV item-length ${itemLength} runs past the end of its P-DATA-TF PDU (${this.#pduRemaining + 2} bytes left)`);
    }
    // PS3.7 Annex F: DIMSE message fragments have even lengths (dcmtk-based PACSs refuse an odd
    // one only after taking the association's data); refused here, before anything is forwarded.
    if (fragmentLength % 2 !== 0) throw new PduError(`PDV fragment length ${fragmentLength} is odd (PS3.7 Annex F: message fragments have even lengths)`);
    const control = src.readUInt8(at + 5);
    const pdv: PdvHeader = {
      pcId: src.readUInt8(at + 4),
      control,
      isCommand: (control & MessageControl.Command) !== 0,
      isLast: (control & MessageControl.Last) !== 0,
      fragmentLength,
    };
    this.#pdv = pdv;
    this.#fragmentRemaining = fragmentLength;
    this.#state = 'fragment';
    this.#handler.onPdv(pdv, this.#headerViews ? this.#raw(src, PDV_HEADER_BYTES) : NO_HEADER);
    return next;
  }

  #readFragment(chunk: Buffer, off: number): number {
    const n = Math.min(this.#fragmentRemaining, this.#end - off);
    if (n > 0) {
      this.#fragmentRemaining -= n;
      this.#pduRemaining -= n;
      this.#handler.onFragment(chunk.subarray(off, off + n));
    }
    if (this.#fragmentRemaining === 0 && !this.#halted) this.#endPdv();
    return off + n;
  }

  #endPdv(): void {
    const pdv = this.#pdv as PdvHeader;
    this.#pdv = undefined;
    this.#handler.onPdvEnd(pdv);
    if (this.#halted) return;
    if (this.#pduRemaining === 0) {
      this.#state = 'pdu-header';
      this.#handler.onPDataEnd();
    } else if (this.#pduRemaining < PDV_HEADER_BYTES) {
      throw new PduError(`P-DATA-TF PDU ends ${this.#pduRemaining} bytes into a PDV item header`);
    } else {
      this.#state = 'pdv-header';
    }
  }

  /** Completes items whose remaining length is zero without waiting for more input. */
  #settle(): void {
    if (this.#state === 'fragment' && this.#fragmentRemaining === 0) this.#endPdv();
    if (this.#state === 'pdu-body' && this.#body !== undefined && this.#bodyFill === this.#body.length) this.#finishBody();
  }
}
