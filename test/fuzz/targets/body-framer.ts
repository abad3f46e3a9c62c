// Chunked body framer: the same end (or the same refusal) for any split of the bytes, and the same as an independent RFC 9112 §7.1 decoder.

import { createHash } from 'node:crypto';
import { ChunkedFramer } from '../../../src/http/edge/body-framer.js';
import { Prng } from '../engine/prng.js';
import { must, type FuzzTarget } from '../engine/target.js';

type Verdict = { readonly kind: 'done'; readonly end: number } | { readonly kind: 'error' } | { readonly kind: 'more' };

/**
 * An independent decoder written from RFC 9112 §7.1 (the grammar, not the framer's code), with the
 * gateway's documented limits: at most 13 hex digits per size, extension and trailer lines of at most
 * 4096 bytes, extension bytes visible (no CTL), trailer lines anything but CR/LF; strict refuses both.
 */
function reference(b: Buffer, strict: boolean): Verdict {
  let i = 0;
  const need = (n: number): boolean => i + n <= b.length;
  for (;;) {
    let digits = 0;
    let size = 0;
    while (need(1) && /[0-9a-fA-F]/.test(String.fromCharCode(b[i] as number))) {
      size = size * 16 + parseInt(String.fromCharCode(b[i] as number), 16);
      i++;
      if (++digits > 13) return { kind: 'error' };
    }
    if (!need(1)) return { kind: 'more' };
    if (digits === 0) return { kind: 'error' };
    if (b[i] === 0x3b) {
      if (strict) return { kind: 'error' };
      i++;
      let n = 0;
      while (need(1) && b[i] !== 0x0d) {
        const c = b[i] as number;
        if (c < 0x20 || c === 0x7f || ++n > 4096) return { kind: 'error' };
        i++;
      }
      if (!need(1)) return { kind: 'more' };
    }
    if (b[i] !== 0x0d) return { kind: 'error' };
    i++;
    if (!need(1)) return { kind: 'more' };
    if (b[i] !== 0x0a) return { kind: 'error' };
    i++;
    if (size === 0) break;
    if (!need(size)) return { kind: 'more' };
    i += size;
    if (!need(1)) return { kind: 'more' };
    if (b[i] !== 0x0d) return { kind: 'error' };
    i++;
    if (!need(1)) return { kind: 'more' };
    if (b[i] !== 0x0a) return { kind: 'error' };
    i++;
  }
  // trailer-section CRLF
  for (;;) {
    if (!need(1)) return { kind: 'more' };
    if (b[i] === 0x0d) {
      i++;
      if (!need(1)) return { kind: 'more' };
      return b[i] === 0x0a ? { kind: 'done', end: i + 1 } : { kind: 'error' };
    }
    if (strict) return { kind: 'error' };
    let n = 0;
    while (need(1) && b[i] !== 0x0d) {
      if (b[i] === 0x0a || ++n > 4096) return { kind: 'error' };
      i++;
    }
    if (!need(1)) return { kind: 'more' };
    i++;
    if (!need(1)) return { kind: 'more' };
    if (b[i] !== 0x0a) return { kind: 'error' };
    i++;
  }
}

function frame(chunks: readonly Buffer[], strict: boolean): Verdict {
  const f = new ChunkedFramer({ strict });
  let offset = 0;
  for (const c of chunks) {
    const r = f.feed(c);
    must(r.used >= 0 && r.used <= c.length, `used ${r.used} of a ${c.length}-byte chunk`);
    if (r.done) return r.error === undefined ? { kind: 'done', end: offset + r.used } : { kind: 'error' };
    must(r.used === c.length, 'an unfinished body left bytes of a chunk unused');
    offset += r.used;
  }
  return { kind: 'more' };
}

function split(input: Buffer): Buffer[] {
  const prng = new Prng(createHash('sha1').update(input).digest().readUInt32LE(0));
  const out: Buffer[] = [];
  for (let at = 0; at < input.length;) {
    const n = 1 + prng.below(prng.oneIn(2) ? 5 : Math.max(1, input.length - at));
    out.push(input.subarray(at, at + n));
    at += n;
  }
  return out;
}

const show = (v: Verdict): string => (v.kind === 'done' ? `done at ${v.end}` : v.kind);

export const bodyFramerTarget: FuzzTarget = {
  name: 'body-framer',
  about: 'src/http/edge/body-framer.ts (chunked, strict for requests and lenient for responses): the body ends at the same byte, or is refused, however the bytes are split, and as an independent RFC 9112 §7.1 decoder says',
  files: ['src/http/edge/body-framer'],
  maxLength: 4096,
  dictionary: ['\r\n', '0\r\n\r\n', ';', ';a=b', 'ffffffffffffff', '0000000000000001', '\n', '\r', 'X-T: v\r\n', '\0', ' ', '\t', '-1', '0x10'],
  seeds: () => ['5\r\nhello\r\n0\r\n\r\n', '1;ext=1\r\nA\r\n0\r\nTrailer: x\r\n\r\n', '10\r\n0123456789abcdef\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n', '0\r\n\r\n'].map((s) => Buffer.from(s, 'latin1')),
  run(input) {
    for (const strict of [true, false]) {
      const whole = frame([input], strict);
      const pieces = frame(split(input), strict);
      const ref = reference(input, strict);
      must(show(whole) === show(pieces), `${strict ? 'strict' : 'lenient'}: whole ${show(whole)}, split ${show(pieces)}`);
      must(show(whole) === show(ref), `${strict ? 'strict' : 'lenient'}: framer ${show(whole)}, RFC 9112 decoder ${show(ref)}`);
    }
  },
};
