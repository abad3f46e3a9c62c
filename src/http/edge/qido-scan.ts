// Streaming scan of a QIDO-RS answer: counts the result objects and collects their Patient IDs, without buffering the body.
//
// application/dicom+json (PS3.18 §F.2): a JSON array of objects, one per match, whose
// "00100020" attribute holds {"vr":"LO","Value":["…"]}. The scan follows strings and nesting one
// byte at a time (strings are skipped with indexOf), remembers only the current key path, and
// keeps at most MAX_ID_BYTES of a Patient ID. multipart/related; type="application/dicom+xml"
// (PS3.19 Native DICOM Model): each part is a <NativeDicomModel>; the Patient ID is the first
// <Value> of <DicomAttribute tag="00100020">, found with a small carried-over window.

import { MAX_OUTCOME_PATIENTS } from '../../audit/outcome.js';

const QUOTE = 0x22;
const PID_KEY = Buffer.from('00100020');
const VALUE_KEY = Buffer.from('Value');
const BACKSLASH = 0x5c;
const MAX_ID_BYTES = 64;
/** Containers deeper than this are walked but not tracked (a QIDO answer nests 3–5 deep). */
const MAX_TRACKED_DEPTH = 16;

export interface QidoScan {
  feed(chunk: Buffer): void;
  /** Call once the body is complete (the XML scan looks at its carried-over tail). */
  end(): void;
  readonly results: number;
  readonly patientIds: ReadonlySet<string>;
  /** Results without a readable Patient ID. */
  readonly unidentified: number;
}

/** A scanner for the response's content type, or undefined when the type is not one QIDO-RS answers with. */
export function qidoScanFor(contentType: string | undefined): QidoScan | undefined {
  if (contentType === undefined) return undefined;
  const t = contentType.toLowerCase();
  if (t.startsWith('application/dicom+json') || t.startsWith('application/json')) return new JsonQidoScan();
  if (t.startsWith('multipart/related') && t.includes('dicom+xml')) return new XmlQidoScan();
  return undefined;
}

const enum Ctx { Array = 1, Object = 2 }

export class JsonQidoScan implements QidoScan {
  results = 0;
  readonly patientIds = new Set<string>();
  #withId = 0;
  /** Container kinds from the top (index 0 = depth 1). */
  readonly #stack: Ctx[] = [];
  #depth = 0;
  #inString = false;
  #escape = false;
  /** In an object, the next string is a key. */
  #expectKey = false;
  /** The string being read is a key that matters (depth 2 or 3), or the Patient ID value. */
  #keep: 'key' | 'id' | undefined;
  #text = '';
  /** The last key read at depth 2 (or 3 inside the Patient ID attribute): only whether it was one of the two that matter. */
  #lastKey: 'pid' | 'value' | 'other' = 'other';
  /** Inside a result's "00100020" object (depth 3). */
  #inPid = false;
  /** Inside that object's "Value" array (depth 4), before its first string. */
  #inValue = false;

  get unidentified(): number { return Math.max(0, this.results - this.#withId); }

  feed(b: Buffer): void {
    let i = 0;
    const n = b.length;
    while (i < n) {
      if (this.#inString) {
        i = this.#string(b, i, n);
        continue;
      }
      const c = b[i++] as number;
      switch (c) {
        case QUOTE:
          this.#inString = true;
          this.#keep = undefined;
          if (this.#expectKey && (this.#depth === 2 || (this.#depth === 3 && this.#inPid))) { this.#keep = 'key'; this.#text = ''; }
          else if (this.#inValue && this.#depth === 4) { this.#keep = 'id'; this.#text = ''; }
          break;
        case 0x7b: // {
          this.#open(Ctx.Object);
          if (this.#depth === 2 && this.#stack[0] === Ctx.Array) this.results++;
          if (this.#depth === 3 && this.#lastKey === 'pid') this.#inPid = true;
          break;
        case 0x5b: // [
          this.#open(Ctx.Array);
          if (this.#depth === 4 && this.#inPid && this.#lastKey === 'value') this.#inValue = true;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          if (this.#depth === 4) this.#inValue = false;
          if (this.#depth === 3) this.#inPid = false;
          this.#depth = Math.max(0, this.#depth - 1);
          if (this.#depth < this.#stack.length) this.#stack.length = this.#depth;
          this.#expectKey = false;
          break;
        case 0x2c: // ,
          this.#expectKey = this.#top() === Ctx.Object;
          break;
        case 0x3a: // :
          this.#expectKey = false;
          break;
        default:
          break;
      }
    }
  }

  end(): void { /* nothing carried over */ }

  #top(): Ctx | undefined {
    return this.#depth <= MAX_TRACKED_DEPTH ? this.#stack[this.#depth - 1] : undefined;
  }

  #open(kind: Ctx): void {
    this.#depth++;
    if (this.#depth <= MAX_TRACKED_DEPTH) this.#stack[this.#depth - 1] = kind;
    this.#expectKey = kind === Ctx.Object;
  }

  /** Reads string bytes from `i`; returns where to continue. */
  #string(b: Buffer, i: number, n: number): number {
    if (this.#keep !== undefined && this.#text === '' && !this.#escape) {
      // A key (or the Patient ID) that ends in this chunk without escapes: read in place.
      const q = b.indexOf(QUOTE, i);
      if (q >= 0 && q - i <= MAX_ID_BYTES && !hasBackslash(b, i, q)) {
        if (this.#keep === 'key') {
          this.#lastKey = q - i === 8 && b.compare(PID_KEY, 0, 8, i, q) === 0 ? 'pid' : q - i === 5 && b.compare(VALUE_KEY, 0, 5, i, q) === 0 ? 'value' : 'other';
          this.#inString = false;
          this.#keep = undefined;
        } else {
          this.#text = b.toString('latin1', i, q);
          this.#stringEnded();
        }
        return q + 1;
      }
    }
    if (this.#keep === undefined && !this.#escape) {
      // Skip to the next quote natively; a backslash run before it decides whether it ends the string.
      const q = b.indexOf(QUOTE, i);
      if (q < 0) {
        this.#escape = endsEscaped(b, i, n);
        return n;
      }
      let k = q - 1;
      while (k >= i && b[k] === BACKSLASH) k--;
      if ((q - 1 - k) % 2 === 1) return q + 1; // an escaped quote: still in the string
      this.#inString = false;
      return q + 1;
    }
    while (i < n) {
      const c = b[i++] as number;
      if (this.#escape) { this.#escape = false; this.#add(c); continue; }
      if (c === BACKSLASH) { this.#escape = true; continue; }
      if (c === QUOTE) { this.#stringEnded(); return i; }
      this.#add(c);
    }
    return n;
  }

  #add(c: number): void {
    if (this.#keep !== undefined && this.#text.length < MAX_ID_BYTES) this.#text += String.fromCharCode(c);
  }

  #stringEnded(): void {
    this.#inString = false;
    if (this.#keep === 'key') this.#lastKey = this.#text === '00100020' ? 'pid' : this.#text === 'Value' ? 'value' : 'other';
    else if (this.#keep === 'id') {
      this.#inValue = false;
      const id = this.#text.trim();
      if (id !== '') {
        this.#withId++;
        if (this.patientIds.size < MAX_OUTCOME_PATIENTS) this.patientIds.add(id);
      }
    }
    this.#keep = undefined;
  }
}

function hasBackslash(b: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (b[k] === BACKSLASH) return true;
  return false;
}

/** Whether a string chunk ending at `n` ends inside an escape (an odd run of backslashes). */
function endsEscaped(b: Buffer, from: number, n: number): boolean {
  let k = n - 1;
  while (k >= from && b[k] === BACKSLASH) k--;
  return (n - 1 - k) % 2 === 1;
}

const MODEL = '<NativeDicomModel';
const PID = /<DicomAttribute\b[^>]*\btag="00100020"[^>]*>\s*<Value\b[^>]*>([^<]{0,64})<\/Value>/g;
/** Bytes carried from one chunk to the next so a pattern cut in two is still seen. */
const CARRY = 512;

export class XmlQidoScan implements QidoScan {
  results = 0;
  readonly patientIds = new Set<string>();
  #withId = 0;
  #carry = '';

  get unidentified(): number { return Math.max(0, this.results - this.#withId); }

  feed(chunk: Buffer): void {
    const text = this.#carry + chunk.toString('latin1');
    // Only matches that start before the carried-over tail are counted now; the tail is looked at again with the next chunk.
    const limit = Math.max(0, text.length - CARRY);
    this.#scan(text, limit);
    this.#carry = text.slice(limit);
  }

  end(): void {
    this.#scan(this.#carry, this.#carry.length);
    this.#carry = '';
  }

  #scan(text: string, limit: number): void {
    for (let at = text.indexOf(MODEL); at >= 0 && at < limit; at = text.indexOf(MODEL, at + 1)) this.results++;
    PID.lastIndex = 0;
    for (let m = PID.exec(text); m !== null && m.index < limit; m = PID.exec(text)) {
      const id = (m[1] ?? '').trim();
      if (id === '') continue;
      this.#withId++;
      if (this.patientIds.size < MAX_OUTCOME_PATIENTS) this.patientIds.add(id);
    }
  }
}
