// PDU stream reader: the same bytes split at random points give the same PDUs, or the same PduError; lengths capped before allocating.

import { createHash } from 'node:crypto';
import { PDU_HEADER_BYTES } from '../../../src/dicom/constants.js';
import { PduError } from '../../../src/dicom/pdu-error.js';
import { PduReader, type PduHandler } from '../../../src/dicom/pdu-reader.js';
import { Prng } from '../engine/prng.js';
import { must, withAllocationCap, type FuzzTarget } from '../engine/target.js';
import { DICOM_DICTIONARY, clientStream, echoAc } from './dicom-seeds.js';

const LIMITS = { maxAssociateBytes: 65_536, maxPDataBytes: 16_384 } as const;

/** Feeds `chunks` to a fresh reader and describes every event (fragments joined per PDV), then the error if any. */
function events(chunks: readonly Buffer[], headerViews: boolean): string[] {
  const out: string[] = [];
  let fragment: Buffer[] = [];
  let declared = 0;
  const h: PduHandler = {
    onPduHeader: (type, length) => { out.push(`header ${type} ${length}`); },
    onPdu: (type, raw) => { out.push(`pdu ${type} ${raw.toString('hex')}`); },
    onPDataStart: (length, raw) => { out.push(`pdata ${length} ${raw.toString('hex')}`); },
    onPdv: (pdv, raw) => { fragment = []; declared = pdv.fragmentLength; out.push(`pdv ${pdv.pcId} ${pdv.control} ${pdv.fragmentLength} ${raw.toString('hex')}`); },
    onFragment: (d) => { fragment.push(Buffer.from(d)); },
    onPdvEnd: (pdv) => {
      const all = Buffer.concat(fragment);
      must(all.length === declared && pdv.fragmentLength === declared, `PDV ended with ${all.length} of ${declared} fragment bytes`);
      out.push(`pdv-end ${createHash('sha1').update(all).digest('hex')}`);
    },
    onPDataEnd: () => { out.push('pdata-end'); },
  };
  const r = new PduReader(h, LIMITS, { headerViews });
  let pushed = 0;
  try {
    for (const c of chunks) {
      // A reused read buffer longer than the valid bytes (socket-read.ts): only `length` bytes count.
      const padded = Buffer.concat([c, Buffer.alloc(3, 0xee)]);
      r.push(padded, c.length);
      pushed += c.length;
      must(r.bytesIn === pushed, `bytesIn ${r.bytesIn} after pushing ${pushed}`);
    }
    out.push(`end boundary=${r.atPduBoundary}`);
  } catch (err) {
    if (!(err instanceof PduError)) throw err;
    out.push(`error ${err.message} ${err.abortReason}`);
    let again: unknown;
    try { r.push(Buffer.from([1])); } catch (e) { again = e; }
    must(again instanceof PduError, 'a failed reader accepted more input');
  }
  return out;
}

function split(input: Buffer): Buffer[] {
  const prng = new Prng(createHash('sha1').update(input).digest().readUInt32LE(0));
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < input.length) {
    const n = prng.oneIn(3) ? 1 + prng.below(7) : 1 + prng.below(Math.max(1, input.length - at));
    chunks.push(input.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

export const pduReaderTarget: FuzzTarget = {
  name: 'pdu-reader',
  about: 'src/dicom/pdu-reader.ts: a client byte stream whole and split at random points; same events or the same PduError, every PDV complete, no allocation over the A-ASSOCIATE limit',
  files: ['src/dicom/pdu-reader', 'src/dicom/pdu-error'],
  maxLength: 8192,
  dictionary: DICOM_DICTIONARY,
  seeds: () => [clientStream(true), clientStream(false), echoAc()],
  run(input) {
    const cap = PDU_HEADER_BYTES + LIMITS.maxAssociateBytes;
    const whole = withAllocationCap(() => events([input], true), cap, 'PDU reader');
    const pieces = withAllocationCap(() => events(split(input), true), cap, 'PDU reader (split input)');
    must(whole.join('\n') === pieces.join('\n'), `split input read differently:\n${whole.slice(-3).join('\n')}\nvs\n${pieces.slice(-3).join('\n')}`);
    const noViews = events(split(input), false).map((e) => e.replace(/^(pdata \d+|pdv \d+ \d+ \d+) [0-9a-f]*$/, '$1'));
    must(noViews.join('\n') === whole.map((e) => e.replace(/^(pdata \d+|pdv \d+ \d+ \d+) [0-9a-f]*$/, '$1')).join('\n'), 'headerViews: false read differently');
  },
};
