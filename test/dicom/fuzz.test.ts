// Mutated and random input: parsers only ever throw PduError, and the listener survives it all without reaching the PACS.

import t, { type Test } from 'tap';
import { buildAssociateAc, buildAssociateRq } from '../../src/dicom/associate-build.js';
import { parseAssociateAc, parseAssociateRq } from '../../src/dicom/associate-parse.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { decodeCommandSet } from '../../src/dicom/command-set.js';
import { CommandTag, PduType } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { PduError } from '../../src/dicom/pdu-error.js';
import { PduReader } from '../../src/dicom/pdu-reader.js';
import { rawClient, startHarness, VERIFICATION, IMPLICIT } from './helpers/harness.js';

let seed = 0x5eed;
const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };

function mutate(b: Buffer, flips: number): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < flips; i++) out[rand(out.length)] = rand(256);
  return rand(4) === 0 ? out.subarray(0, rand(out.length)) : out;
}

const rq = buildAssociateRq({
  calledAe: 'GATEWAY', callingAe: 'CT01', userIdentity: { type: 2, positiveResponseRequested: true, primary: Buffer.from('u'), secondary: Buffer.from('p') },
  presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }, { id: 3, abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: [IMPLICIT, '1.2.840.10008.1.2.1'] }],
});
const ac = buildAssociateAc({ calledAe: 'GATEWAY', callingAe: 'CT01', presentationContexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT }] });
const cmd = buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: VERIFICATION }], [CommandTag.CommandField, { us: 0x30 }], [CommandTag.MessageId, { us: 1 }], [CommandTag.CommandDataSetType, { us: 0x101 }], [CommandTag.MoveDestination, { text: 'DEST' }]]);

function onlyPduErrors(t: Test, name: string, fn: () => unknown): void {
  let others = 0;
  let first: unknown;
  for (let i = 0; i < 3000; i++) {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof PduError)) { others++; first ??= err; }
    }
  }
  t.equal(others, 0, `${name}: only PduError${first === undefined ? '' : ` (got ${String(first)})`}`);
}

t.test('parsers throw nothing but PduError on mutated input', async (t) => {
  onlyPduErrors(t, 'A-ASSOCIATE-RQ', () => parseAssociateRq(fixLength(mutate(rq, 1 + rand(6)))));
  onlyPduErrors(t, 'A-ASSOCIATE-AC', () => parseAssociateAc(fixLength(mutate(ac, 1 + rand(6)))));
  onlyPduErrors(t, 'command set', () => decodeCommandSet(mutate(cmd, 1 + rand(4))));
  onlyPduErrors(t, 'PDU stream', () => {
    const r = new PduReader({ onPdu: () => undefined, onPDataStart: () => undefined, onPdv: () => undefined, onFragment: () => undefined, onPdvEnd: () => undefined, onPDataEnd: () => undefined }, { maxAssociateBytes: 1 << 16, maxPDataBytes: 1 << 20 });
    r.push(mutate(Buffer.concat([rq, buildPData(1, true, cmd), Buffer.from([PduType.ReleaseRq, 0, 0, 0, 0, 4, 0, 0, 0, 0])]), 1 + rand(8)));
  });
});

/** Keeps the PDU-length consistent so mutations reach the items. */
function fixLength(b: Buffer): Buffer {
  if (b.length >= 6) b.writeUInt32BE(b.length - 6, 2);
  return b;
}

t.test('the listener survives hostile connections and still serves', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const answers = new Set<number>();
  for (let i = 0; i < 60; i++) {
    const c = await rawClient(h.port);
    const bytes = i % 3 === 0 ? Buffer.from(Array.from({ length: 1 + rand(200) }, () => rand(256))) : fixLength(mutate(rq, 1 + rand(6)));
    c.send(bytes);
    if (i % 5 === 0) c.socket.end();
    const got = await c.ended;
    answers.add(got[0] ?? -1);
  }
  t.ok([...answers].every((b) => b === -1 || b === PduType.AssociateRj || b === PduType.Abort), `answers were only A-ASSOCIATE-RJ, A-ABORT or nothing (${[...answers].join(',')})`);
  t.equal(h.upstream.connections, 0, 'nothing reached the PACS');
  const c = await rawClient(h.port);
  c.send(rq);
  const got = await c.ended;
  t.equal(got[0], PduType.AssociateRj, 'a well-formed request is still answered');
});
