// Byte-level mutations in the manner of libFuzzer's MutationDispatcher: flips, interesting values, splices, tokens.

import type { Prng } from './prng.js';

/** Bytes and 16/32-bit values that sit on boundaries parsers get wrong (libFuzzer's "interesting values"). */
const INTERESTING_8 = [0x00, 0x01, 0x02, 0x04, 0x06, 0x0a, 0x0d, 0x10, 0x20, 0x2f, 0x30, 0x3a, 0x3b, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const INTERESTING_32 = [0, 1, 2, 3, 4, 5, 6, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

export interface MutateContext {
  readonly prng: Prng;
  /** Other corpus entries, for splicing. */
  readonly corpus: readonly Buffer[];
  /** Tokens of the input language (field names, UIDs, PDU headers …). */
  readonly dictionary: readonly Buffer[];
  /** Largest input produced. */
  readonly maxLength: number;
}

type Mutator = (b: Buffer, c: MutateContext) => Buffer;

const flipBit: Mutator = (b, { prng }) => {
  if (b.length === 0) return b;
  const i = prng.below(b.length);
  b[i] = (b[i] as number) ^ (1 << prng.below(8));
  return b;
};

const randomByte: Mutator = (b, { prng }) => {
  if (b.length === 0) return b;
  b[prng.below(b.length)] = prng.below(256);
  return b;
};

const interestingByte: Mutator = (b, { prng }) => {
  if (b.length === 0) return b;
  b[prng.below(b.length)] = prng.pick(INTERESTING_8);
  return b;
};

/** Overwrites 1, 2 or 4 bytes with a boundary value, big- or little-endian (length fields of both byte orders). */
const interestingWord: Mutator = (b, { prng }) => {
  const size = prng.pick([2, 4]);
  if (b.length < size) return b;
  const at = prng.below(b.length - size + 1);
  const v = prng.pick(INTERESTING_32) >>> 0;
  const big = prng.oneIn(2);
  if (size === 2) { if (big) b.writeUInt16BE(v & 0xffff, at); else b.writeUInt16LE(v & 0xffff, at); }
  else if (big) b.writeUInt32BE(v, at); else b.writeUInt32LE(v, at);
  return b;
};

/** Adds or subtracts a small number from a 1/2/4-byte field (off-by-one lengths). */
const arith: Mutator = (b, { prng }) => {
  const size = prng.pick([1, 2, 4]);
  if (b.length < size) return b;
  const at = prng.below(b.length - size + 1);
  const delta = (prng.below(35) + 1) * (prng.oneIn(2) ? 1 : -1);
  const big = prng.oneIn(2);
  if (size === 1) b[at] = ((b[at] as number) + delta) & 0xff;
  else if (size === 2) {
    const v = big ? b.readUInt16BE(at) : b.readUInt16LE(at);
    if (big) b.writeUInt16BE((v + delta) & 0xffff, at); else b.writeUInt16LE((v + delta) & 0xffff, at);
  } else {
    const v = big ? b.readUInt32BE(at) : b.readUInt32LE(at);
    if (big) b.writeUInt32BE((v + delta) >>> 0, at); else b.writeUInt32LE((v + delta) >>> 0, at);
  }
  return b;
};

const eraseBytes: Mutator = (b, { prng }) => {
  if (b.length < 2) return b;
  const n = 1 + prng.below(Math.min(b.length - 1, prng.oneIn(4) ? 256 : 8));
  const at = prng.below(b.length - n + 1);
  return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
};

const insertBytes: Mutator = (b, { prng }) => {
  const n = 1 + prng.below(prng.oneIn(8) ? 128 : 4);
  const v = prng.oneIn(2) ? prng.below(256) : -1;
  const ins = Buffer.alloc(n);
  for (let i = 0; i < n; i++) ins[i] = v >= 0 ? v : prng.below(256);
  const at = prng.below(b.length + 1);
  return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
};

/** Copies a piece of the input elsewhere in it (repeated fields, duplicated items). */
const duplicatePart: Mutator = (b, { prng }) => {
  if (b.length === 0) return b;
  const from = prng.below(b.length);
  const n = 1 + prng.below(Math.min(b.length - from, 64));
  const at = prng.below(b.length + 1);
  const part = Buffer.from(b.subarray(from, from + n));
  return prng.oneIn(2) ? Buffer.concat([b.subarray(0, at), part, b.subarray(at)])
    : (part.copy(b, Math.min(at, Math.max(0, b.length - n))), b);
};

const shuffleBytes: Mutator = (b, { prng }) => {
  if (b.length < 2) return b;
  const n = 2 + prng.below(Math.min(b.length - 1, 8));
  const at = prng.below(b.length - n + 1);
  for (let i = n - 1; i > 0; i--) {
    const j = prng.below(i + 1);
    const x = b[at + i] as number;
    b[at + i] = b[at + j] as number;
    b[at + j] = x;
  }
  return b;
};

const insertToken: Mutator = (b, { prng, dictionary }) => {
  if (dictionary.length === 0) return b;
  const tok = prng.pick(dictionary);
  const at = prng.below(b.length + 1);
  if (prng.oneIn(2) && at + tok.length <= b.length) {
    tok.copy(b, at);
    return b;
  }
  return Buffer.concat([b.subarray(0, at), tok, b.subarray(at)]);
};

/** Joins the head of this input with the tail of another corpus entry (libFuzzer's CrossOver). */
const crossOver: Mutator = (b, { prng, corpus }) => {
  if (corpus.length === 0) return b;
  const other = prng.pick(corpus);
  const cut = prng.below(b.length + 1);
  const from = prng.below(other.length + 1);
  return Buffer.concat([b.subarray(0, cut), other.subarray(from)]);
};

const truncate: Mutator = (b, { prng }) => (b.length === 0 ? b : b.subarray(0, prng.below(b.length)));

const MUTATORS: readonly Mutator[] = [
  flipBit, randomByte, interestingByte, interestingWord, interestingWord, arith, arith, eraseBytes,
  insertBytes, duplicatePart, shuffleBytes, insertToken, insertToken, insertToken, crossOver, truncate,
];

/** A mutated copy of `input`: a stack of 1–8 mutations (libFuzzer's default depth is 5). */
export function mutate(input: Buffer, c: MutateContext): Buffer {
  let b: Buffer = Buffer.from(input);
  const depth = 1 + c.prng.below(8);
  for (let i = 0; i < depth; i++) b = (c.prng.pick(MUTATORS))(b, c);
  return b.length > c.maxLength ? b.subarray(0, c.maxLength) : b;
}
