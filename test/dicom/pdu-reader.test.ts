// PduReader: split and merged chunks, bounds before allocation, zero-copy fragments, every violation's reason.

import t, { type Test } from 'tap';
import { AbortReason, PduType } from '../../src/dicom/constants.js';
import { buildAbort, buildRelease } from '../../src/dicom/abort.js';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { PduError } from '../../src/dicom/pdu-error.js';
import { PduReader, type PduHandler, type PdvHeader } from '../../src/dicom/pdu-reader.js';
import { throwsPdu } from './helpers/assert.js';

type Event = [string, ...unknown[]];

function recorder(): { handler: PduHandler; events: Event[] } {
  const events: Event[] = [];
  let frag: Buffer[] = [];
  const handler: PduHandler = {
    onPdu: (type, raw) => events.push(['pdu', type, raw.toString('hex')]),
    onPDataStart: (length) => events.push(['pdata', length]),
    onPdv: (h: PdvHeader) => { frag = []; events.push(['pdv', h.pcId, h.isCommand, h.isLast, h.fragmentLength]); },
    onFragment: (d) => frag.push(Buffer.from(d)),
    onPdvEnd: () => events.push(['fragment', Buffer.concat(frag).toString('hex')]),
    onPDataEnd: () => events.push(['pdata-end']),
  };
  return { handler, events };
}

const limits = { maxAssociateBytes: 65536, maxPDataBytes: 1 << 20 };

function stream(): Buffer {
  const rq = buildAssociateRq({ calledAe: 'PACS', callingAe: 'MOD', presentationContexts: [{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }] });
  const twoPdvs = Buffer.concat([buildPData(1, true, Buffer.from('cmd-part-1'), 4), buildPData(1, false, Buffer.alloc(0))]);
  return Buffer.concat([rq, twoPdvs, buildPData(3, false, Buffer.alloc(300, 7), 128), buildRelease(PduType.ReleaseRq), buildAbort(AbortReason.NotSpecified)]);
}

function feed(bytes: Buffer, cuts: number[]): Event[] {
  const { handler, events } = recorder();
  const r = new PduReader(handler, limits);
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    r.push(bytes.subarray(prev, c));
    prev = c;
  }
  t.ok(r.atPduBoundary);
  return events;
}

t.test('the same bytes give the same events however they are split', async (t) => {
  const bytes = stream();
  const whole = feed(bytes, []);
  t.equal(whole.filter((e) => e[0] === 'pdu').length, 3, 'RQ, release, abort');
  t.same(whole.filter((e) => e[0] === 'pdv').length, 3 + 1 + 3, 'three command fragments, one empty data PDV, three data fragments');
  t.same(feed(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)), whole, 'one byte per write');
  let seed = 12345;
  const rand = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let round = 0; round < 200; round++) {
    const cuts = [...new Set(Array.from({ length: rand() % 12 }, () => 1 + (rand() % (bytes.length - 1))))].sort((a, b) => a - b);
    t.same(feed(bytes, cuts), whole, `random split ${round}`);
  }
});

t.test('push(chunk, length) reads only the first length bytes of a reused buffer', async (t) => {
  const bytes = stream();
  const whole = feed(bytes, []);
  const { handler, events } = recorder();
  const r = new PduReader(handler, limits);
  // One buffer, refilled for every piece, with stale bytes after the valid part (as socket-read.ts delivers them).
  const shared = Buffer.alloc(97);
  for (let off = 0; off < bytes.length; off += 61) {
    shared.fill(0xa5);
    const n = bytes.copy(shared, 0, off, Math.min(off + 61, bytes.length));
    r.push(shared, n);
  }
  t.ok(r.atPduBoundary);
  t.same(events, whole);
  t.equal(r.bytesIn, bytes.length);
});

t.test('without headerViews the events are the same and P-DATA/PDV headers come as empty buffers', async (t) => {
  const bytes = stream();
  const whole = feed(bytes, []);
  let seed = 777;
  const rand = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let round = 0; round < 50; round++) {
    const { handler, events } = recorder();
    const headers: number[] = [];
    const r = new PduReader({
      ...handler,
      onPDataStart: (n, raw) => { headers.push(raw.length); handler.onPDataStart(n, raw); },
      onPdv: (h, raw) => { headers.push(raw.length); handler.onPdv(h, raw); },
    }, limits, { headerViews: false });
    const shared = Buffer.alloc(64);
    let off = 0;
    while (off < bytes.length) {
      const n = bytes.copy(shared, 0, off, Math.min(off + 1 + (rand() % 63), bytes.length));
      r.push(shared, n);
      off += n;
    }
    t.same(events, whole, `split ${round}`);
    t.ok(headers.length > 0 && headers.every((n) => n === 0));
  }
});

t.test('fragments are views of the input, not copies', async (t) => {
  const pdu = buildPData(1, false, Buffer.alloc(1000, 1));
  const seen: Buffer[] = [];
  const r = new PduReader({ ...recorder().handler, onFragment: (d) => seen.push(d) }, limits);
  r.push(pdu);
  t.equal(seen.length, 1);
  t.equal(seen[0]?.buffer, pdu.buffer, 'same ArrayBuffer');
});

function violation(t: Test, bytes: Buffer, reason: number, pattern: RegExp, l = limits): void {
  const r = new PduReader(recorder().handler, l);
  throwsPdu(t, () => r.push(bytes), reason, pattern);
  throwsPdu(t, () => r.push(Buffer.from([1])), AbortReason.NotSpecified, /already failed/, 'a failed reader refuses more input');
}

t.test('violations carry the PS3.8 Table 9-26 reason', async (t) => {
  violation(t, Buffer.from([0x09, 0, 0, 0, 0, 4]), AbortReason.UnrecognizedPdu, /unrecognized PDU type 0x09/);
  violation(t, Buffer.from([0x09]), AbortReason.UnrecognizedPdu, /0x09/);
  violation(t, Buffer.from([0x01, 0, 0x7f, 0xff, 0xff, 0xff]), AbortReason.InvalidPduParameterValue, /exceeds the limit of 65536/);
  violation(t, Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xff]), AbortReason.InvalidPduParameterValue, /exceeds the limit/);
  violation(t, Buffer.from([0x04, 0, 0, 0, 0, 5]), AbortReason.InvalidPduParameterValue, /cannot hold a PDV/);
  violation(t, Buffer.from([0x07, 0, 0, 0, 0, 5]), AbortReason.InvalidPduParameterValue, /A-ABORT PDU-length must be 4/);
  violation(t, Buffer.from([0x05, 0, 0, 0, 0, 3]), AbortReason.InvalidPduParameterValue, /A-RELEASE-RQ PDU-length must be 4/);
  // PDV item-length 100 inside a P-DATA-TF of 10 bytes.
  violation(t, Buffer.from([0x04, 0, 0, 0, 0, 10, 0, 0, 0, 100, 1, 3]), AbortReason.InvalidPduParameterValue, /runs past the end/);
  violation(t, Buffer.from([0x04, 0, 0, 0, 0, 6, 0, 0, 0, 1, 1, 3]), AbortReason.InvalidPduParameterValue, /shorter than its own header/);
  // PS3.7 Annex F: a 3-byte fragment (item-length 5) is refused before any of it is delivered.
  violation(t, Buffer.from([0x04, 0, 0, 0, 0, 9, 0, 0, 0, 5, 1, 0, 0xaa, 0xbb, 0xcc]), AbortReason.InvalidPduParameterValue, /fragment length 3 is odd/);
  // PDU of 10 bytes with one 6-byte PDV item: 4 bytes left cannot hold another PDV header.
  violation(t, Buffer.from([0x04, 0, 0, 0, 0, 10, 0, 0, 0, 2, 1, 3, 0, 0, 0, 0]), AbortReason.InvalidPduParameterValue, /ends 4 bytes into a PDV item header/);
});

t.test('a huge declared length allocates nothing', async (t) => {
  const before = process.memoryUsage().arrayBuffers;
  violation(t, Buffer.from([0x01, 0, 0xff, 0xff, 0xff, 0xf0]), AbortReason.InvalidPduParameterValue, /exceeds/);
  t.ok(process.memoryUsage().arrayBuffers - before < 1 << 20);
});

t.test('a handler error stops the reader and propagates', async (t) => {
  const r = new PduReader({ ...recorder().handler, onPdu: () => { throw new PduError('nope', AbortReason.UnexpectedPdu); } }, limits);
  throwsPdu(t, () => r.push(buildRelease(PduType.ReleaseRq)), AbortReason.UnexpectedPdu, /nope/);
});

t.test('counts bytes and reports PDU boundaries', async (t) => {
  const r = new PduReader(recorder().handler, limits);
  const b = buildRelease(PduType.ReleaseRp);
  r.push(b.subarray(0, 3));
  t.notOk(r.atPduBoundary);
  r.push(b.subarray(3));
  t.ok(r.atPduBoundary);
  t.equal(r.bytesIn, 10);
});

t.test('halt() from a handler: nothing more of the chunk is reported, later chunks are only counted', async (t) => {
  const events: Event[] = [];
  const tail = Buffer.concat([buildAssociateRq({ calledAe: 'PACS', callingAe: 'MOD', presentationContexts: [] }), buildPData(1, true, Buffer.alloc(8))]);
  const r: PduReader = new PduReader({
    onPdu: (type) => { events.push(['pdu', type]); if (type === PduType.Abort) r.halt(); },
    onPDataStart: () => events.push(['pdata']),
    onPdv: () => events.push(['pdv']),
    onFragment: () => events.push(['fragment']),
    onPdvEnd: () => events.push(['pdv-end']),
    onPDataEnd: () => events.push(['pdata-end']),
  }, limits);
  r.push(Buffer.concat([buildRelease(PduType.ReleaseRq), buildAbort(AbortReason.NotSpecified), tail]));
  t.same(events, [['pdu', PduType.ReleaseRq], ['pdu', PduType.Abort]], 'the PDUs up to the halt, none after');
  t.equal(r.discarded, tail.length, 'the rest of the chunk is counted');
  r.push(Buffer.from([0xff, 0, 0xff, 0xff, 0xff, 0xff]));
  t.equal(r.discarded, tail.length + 6, 'a later chunk is counted, not read: even garbage throws nothing');
  t.same(events.length, 2);
});

t.test('halt() during a P-DATA-TF: no further P-DATA event', async (t) => {
  const events: string[] = [];
  const r: PduReader = new PduReader({
    onPdu: () => events.push('pdu'),
    onPDataStart: () => events.push('pdata'),
    onPdv: () => events.push('pdv'),
    onFragment: () => { events.push('fragment'); r.halt(); },
    onPdvEnd: () => events.push('pdv-end'),
    onPDataEnd: () => events.push('pdata-end'),
  }, limits);
  const bytes = Buffer.concat([buildPData(1, false, Buffer.alloc(8), 4), buildRelease(PduType.ReleaseRq)]);
  r.push(bytes);
  t.same(events, ['pdata', 'pdv', 'fragment'], 'stopped inside the first PDV');
  t.equal(r.discarded, bytes.length - 6 - 6 - 4, 'everything after the first fragment is counted');
});
