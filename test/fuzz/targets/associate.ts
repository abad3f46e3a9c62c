// A-ASSOCIATE-RQ/AC parsers: PduError only; re-encoding keeps every item byte for byte; what the PACS gets never carries credentials.

import { isDeepStrictEqual } from 'node:util';
import { buildAssociate, rewriteAssociate } from '../../../src/dicom/associate-build.js';
import { parseAssociateAc, parseAssociateRq, type AssociateAc, type AssociateRq } from '../../../src/dicom/associate-parse.js';
import { ItemType } from '../../../src/dicom/constants.js';
import { acceptForClient, requestForPacs } from '../../../src/dicom/negotiation.js';
import { must, type FuzzTarget } from '../engine/target.js';
import { DICOM_DICTIONARY, associateRqArbitrary, echoAc, echoRq } from './dicom-seeds.js';

/** The PDU-length field made to match the size: framing is the reader's job (fuzzed on its own). */
function framed(input: Buffer): Buffer {
  const b = Buffer.from(input);
  if (b.length >= 6) b.writeUInt32BE(b.length - 6, 2);
  return b;
}

/**
 * Offsets a faithful re-encoding may change: reserved byte 1, reserved bytes 8–9, the AE title
 * fields (padding), and the reserved byte of every item and sub-item (PS3.8 §9.3: sent as 00H,
 * not tested on receipt; the gateway forwards them as 00H).
 */
function mayChange(raw: Buffer): Set<number> {
  const out = new Set<number>([1, 8, 9]);
  for (let i = 10; i < 42; i++) out.add(i);
  const walk = (from: number, to: number, depth: number): void => {
    for (let p = from; p + 4 <= to;) {
      const type = raw[p] as number;
      const len = raw.readUInt16BE(p + 2);
      out.add(p + 1);
      if (depth === 0 && (type === 0x20 || type === 0x21)) walk(p + 8, Math.min(to, p + 4 + len), 1);
      if (depth === 0 && type === 0x50) walk(p + 4, Math.min(to, p + 4 + len), 1);
      p += 4 + len;
    }
  };
  walk(74, raw.length, 0);
  return out;
}

function sameItems(again: Buffer, raw: Buffer): boolean {
  if (again.length !== raw.length) return false;
  const free = mayChange(raw);
  for (let i = 0; i < raw.length; i++) if (again[i] !== raw[i] && !(free.has(i) && (i >= 10 && i < 42 ? true : again[i] === 0))) return false;
  return true;
}

function semantic(p: AssociateRq | AssociateAc): unknown {
  const { items: _i, userItems: _u, reserved: _r, ...rest } = p;
  return JSON.parse(JSON.stringify(rest));
}

function identityItems(p: AssociateRq | AssociateAc): number {
  return p.userItems.filter((s) => s.type === ItemType.UserIdentityRq || s.type === ItemType.UserIdentityAc).length;
}

export const associateRqTarget: FuzzTarget = {
  name: 'associate-rq',
  about: 'src/dicom/associate-parse.ts (A-ASSOCIATE-RQ) and negotiation.ts: PduError only; re-encoding gives the same bytes (every item kept); the RQ for the PACS has no user identity and the PACS AE title',
  files: ['src/dicom/associate-parse', 'src/dicom/associate-build', 'src/dicom/user-identity', 'src/dicom/byte-reader', 'src/dicom/negotiation'],
  maxLength: 4096,
  dictionary: DICOM_DICTIONARY,
  seeds: () => [echoRq(true), echoRq(false)],
  generate: associateRqArbitrary,
  run(input) {
    const raw = framed(input);
    const rq = parseAssociateRq(raw);
    const again = rewriteAssociate(rq, {});
    must(sameItems(again, raw), 'a parsed A-ASSOCIATE-RQ re-encodes to different item bytes');
    const rq2 = parseAssociateRq(again);
    must(isDeepStrictEqual(semantic(rq2), semantic(rq)), 'the re-encoded A-ASSOCIATE-RQ parses differently');
    must(rewriteAssociate(rq2, {}).equals(again), 're-encoding is not a fixed point');
    if ([...mayChange(raw)].every((i) => (i >= 10 && i < 42) || raw[i] === 0) && raw.subarray(10, 42).equals(buildAssociate({ ...rq, items: [] }).subarray(10, 42))) {
      must(again.equals(raw), 'a canonical A-ASSOCIATE-RQ does not re-encode to the same bytes');
    }
    // What the PACS receives: parses, no credentials, the PACS's AE title, the same contexts.
    const toPacs = parseAssociateRq(requestForPacs(rq, 'ORTHANC', 16_384));
    must(toPacs.userIdentity === undefined && identityItems(toPacs) === 0, 'the RQ for the PACS carries a user identity sub-item');
    must(toPacs.calledAe === 'ORTHANC', 'the RQ for the PACS is not addressed to the PACS');
    must(isDeepStrictEqual(toPacs.presentationContexts, rq.presentationContexts), 'the RQ for the PACS proposes other presentation contexts');
    must(toPacs.maxPduLength !== undefined && toPacs.maxPduLength > 0 && toPacs.maxPduLength <= 16_384, `the RQ for the PACS asks for ${toPacs.maxPduLength} bytes per PDU`);
  },
};

const CLIENT_RQ = parseAssociateRq(echoRq(true));

export const associateAcTarget: FuzzTarget = {
  name: 'associate-ac',
  about: 'src/dicom/associate-parse.ts (A-ASSOCIATE-AC from the PACS) and negotiation.ts acceptForClient: PduError only; re-encoding keeps every item; the AC for the client has one gateway 0x59 at most and only contexts the client proposed',
  files: ['src/dicom/associate-parse', 'src/dicom/associate-build', 'src/dicom/byte-reader', 'src/dicom/negotiation', 'src/dicom/user-identity'],
  maxLength: 4096,
  dictionary: DICOM_DICTIONARY,
  seeds: () => [echoAc()],
  run(input) {
    const raw = framed(input);
    const ac = parseAssociateAc(raw);
    const again = rewriteAssociate(ac, {});
    must(sameItems(again, raw), 'a parsed A-ASSOCIATE-AC re-encodes to different item bytes');
    must(isDeepStrictEqual(semantic(parseAssociateAc(again)), semantic(ac)), 'the re-encoded A-ASSOCIATE-AC parses differently');
    for (const answer of [false, true]) {
      const { bytes, contexts } = acceptForClient(ac, CLIENT_RQ, 16_384, answer);
      const forClient = parseAssociateAc(bytes);
      must(identityItems(forClient) === (answer ? 1 : 0), 'the AC for the client carries a 0x59 the gateway did not write');
      must([...contexts.keys()].every((id) => CLIENT_RQ.presentationContexts.some((p) => p.id === id)), 'a context the client never proposed was accepted');
      must(forClient.calledAe === CLIENT_RQ.calledAe, 'the AC for the client does not echo its called AE title');
    }
  },
};
