// Streaming scan of a QIDO-RS answer: counts the result objects and collects their Patient IDs, without buffering the body.
//
// application/dicom+json (PS3.18 §F.2): a JSON array of objects, one per match, each with the UID
// attribute of its level and a "00100020" attribute {"vr":"LO","Value":["…"]}; the scan finds those
// keys with string searches and carries a 256-byte tail between chunks. multipart/related;
// type="application/dicom+xml"
// (PS3.19 Native DICOM Model): each part is a <NativeDicomModel>; the Patient ID is the first
// <Value> of <DicomAttribute tag="00100020">, found with a small carried-over window.

import { MAX_OUTCOME_PATIENTS } from '../../audit/outcome.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_ID_BYTES = 64;

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
export function qidoScanFor(contentType: string | undefined, level: QidoLevel = 'study'): QidoScan | undefined {
  if (contentType === undefined) return undefined;
  const t = contentType.toLowerCase();
  if (t.startsWith('application/dicom+json') || t.startsWith('application/json')) return new JsonQidoScan(level);
  if (t.startsWith('multipart/related') && t.includes('dicom+xml')) return new XmlQidoScan();
  return undefined;
}

/** Characters carried from one chunk to the next, so that a key and its value cut in two are still read. */
const JSON_CARRY = 256;
const WS = /[ \t\r\n]/;

export type QidoLevel = 'study' | 'series' | 'instance';

/** The first string of the "Value" array of the attribute object after `from`, or undefined (none). */
function firstValue(s: string, from: number): string | undefined {
  const close = s.indexOf('}', from); // the attribute's end: a "Value" after it belongs to another attribute
  const v = s.indexOf('"Value"', from);
  if (v < 0 || (close >= 0 && close < v)) return undefined;
  const open = s.indexOf('[', v);
  if (open < 0) return undefined;
  let k = open + 1;
  while (k < s.length && WS.test(s[k] as string)) k++;
  if (s.charCodeAt(k) !== QUOTE) return undefined;
  const end = s.indexOf('"', k + 1);
  if (end < 0 || end - k - 1 > MAX_ID_BYTES) return undefined;
  return s.slice(k + 1, end);
}

/**
 * The two keys the JSON scan reads per level (the UID attribute every result of the level carries,
 * PS3.18 §10.6.3.3, and the Patient ID), in one regular
 * expression: one pass over the text instead of one per key. Without the opening quote and a
 * capture, V8 searches it fastest (bench/hooks-cpu.ts); the quote before is checked per match, and
 * the eighth character tells the keys apart (the Patient ID's is "0", no UID key's is).
 */
const JSON_KEYS: Readonly<Record<QidoLevel, RegExp>> = {
  study: /(?:0020000D|00100020)"[ \t\r\n]*:/g,
  series: /(?:0020000E|00100020)"[ \t\r\n]*:/g,
  instance: /(?:00080018|00100020)"[ \t\r\n]*:/g,
};
const ZERO = 0x30;

/**
 * The JSON scan. Result objects are counted by their level's UID key and Patient IDs read after
 * each "00100020" key, with one regular-expression pass over the latin1 text (a byte loop in JS, a
 * native Buffer search per key, or a string search per key cost more: bench/hooks-cpu.ts measures
 * it). A nested sequence holding those keys counts too: the count can only err upward, which for
 * the sweep rule is the safe side.
 */
export class JsonQidoScan implements QidoScan {
  results = 0;
  readonly patientIds = new Set<string>();
  readonly #keys: RegExp;
  #withId = 0;
  #tail = '';

  constructor(level: QidoLevel = 'study') {
    this.#keys = JSON_KEYS[level];
  }

  get unidentified(): number { return Math.max(0, this.results - this.#withId); }

  feed(chunk: Buffer): void {
    const s = this.#tail === '' ? chunk.toString('latin1') : this.#tail + chunk.toString('latin1');
    // Keys that start in the last JSON_CARRY characters are read with the next chunk (or at the end).
    const limit = s.length - JSON_CARRY;
    if (limit > 0) this.#scan(s, 0, limit);
    this.#tail = limit > 0 ? s.slice(limit) : s;
  }

  end(): void {
    const t = this.#tail;
    this.#tail = '';
    if (t !== '') this.#scan(t, 0, t.length);
  }

  #scan(s: string, from: number, limit: number): void {
    const re = this.#keys;
    re.lastIndex = from;
    // test() and lastIndex rather than exec(): no match array per key.
    while (re.test(s)) {
      // Back from the colon over the whitespace to the key's closing quote: the key is the 8 characters before it.
      let close = re.lastIndex - 2;
      while (s.charCodeAt(close) !== QUOTE) close--;
      const key = close - 8;
      // A key: a quote before it, and that quote not escaped (inside a string value).
      const open = key - 1;
      if (open >= limit) break;
      if (open < 0 || s.charCodeAt(open) !== QUOTE || (open > 0 && s.charCodeAt(open - 1) === BACKSLASH)) continue;
      if (s.charCodeAt(key + 7) !== ZERO) { this.results++; continue; }
      const id = firstValue(s, re.lastIndex)?.trim();
      if (id === undefined || id === '') continue;
      this.#withId++;
      if (this.patientIds.size < MAX_OUTCOME_PATIENTS) this.patientIds.add(id);
    }
  }
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
