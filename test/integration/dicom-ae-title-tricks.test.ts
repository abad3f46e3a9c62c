// Attack (issue 12 §4, review): calling AE title tricks against the AE binding of a device. The binding is
// an allow-list compared exactly after the padding PS3.5 calls insignificant (leading/trailing spaces,
// trailing NULs) is removed, and the PACS gets the title re-encoded from that one value: another case,
// an inner space or a character outside the AE repertoire is not the bound title.

import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import t from 'tap';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { PduType } from '../../src/dicom/constants.js';
import { issueClient, prepareCa } from '../helpers/certs.js';
import { startGateway } from '../helpers/gateway.js';
import { startOrthanc } from '../helpers/orthanc.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
/** The calling AE title field of an A-ASSOCIATE-RQ: after the PDU header (6), protocol version and reserved (4), called AE (16). */
const CALLING_AE_AT = 26;

/** Sends an A-ASSOCIATE-RQ whose calling AE title field is `field` (16 bytes as given) and returns the first answer's PDU type and bytes. */
async function associate(port: number, ca: string, cert: string, key: string, field: Buffer): Promise<{ type: number | undefined; pdu: Buffer }> {
  const rq = buildAssociateRq({ calledAe: 'GATEWAY', callingAe: 'X', maxPduLength: 16_384, presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] });
  field.copy(rq, CALLING_AE_AT);
  const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, cert, key });
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const b = Buffer.concat(chunks);
      if (b.length >= 6 && b.length >= 6 + b.readUInt32BE(2)) resolve();
    });
    socket.once('close', () => resolve());
  });
  socket.once('secureConnect', () => socket.write(rq));
  await answered;
  socket.destroy();
  const pdu = Buffer.concat(chunks);
  return { type: pdu[0], pdu };
}

const field = (s: string | Buffer): Buffer => {
  const b = Buffer.alloc(16, 0x20);
  (typeof s === 'string' ? Buffer.from(s, 'latin1') : s).copy(b);
  return b;
};

t.test('calling AE title case and padding tricks against a device bound to CTPAD', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc, dicom: true, prepare: prepareCa, config: { tls: { autoGenerate: false } } });
  t.teardown(() => gw.stop());
  const dev = await issueClient(gw.dir, 'ct-pad', 'technologist', ['CTPAD']);
  await gw.gateway.reload();
  const cert = readFileSync(dev.files.cert, 'utf8');
  const key = readFileSync(dev.files.key, 'utf8');
  const last = () => gw.auditEvents('dicom.association').at(-1);

  for (const [what, f] of [
    ['the title itself', field('CTPAD')],
    ['leading spaces (insignificant, PS3.5)', field('   CTPAD')],
    ['trailing NULs instead of spaces', Buffer.concat([Buffer.from('CTPAD'), Buffer.alloc(11)])],
  ] as const) {
    const r = await associate(gw.dicomPort, gw.caPem, cert, key, f);
    t.equal(r.type, PduType.AssociateAc, `${what}: A-ASSOCIATE-AC`);
    t.match(last(), { decision: 'allow', principal: 'ct-pad', callingAe: 'CTPAD' }, `${what}: the association is CTPAD's`);
  }

  for (const [what, f] of [
    ['lower case', field('ctpad')],
    ['mixed case', field('CtPad')],
    ['an inner space', field('CT PAD')],
    ['a longer title starting with it', field('CTPAD2')],
  ] as const) {
    const r = await associate(gw.dicomPort, gw.caPem, cert, key, f);
    t.equal(r.type, PduType.AssociateRj, `${what}: A-ASSOCIATE-RJ`);
    t.same([...r.pdu.subarray(7, 10)], [1, 1, 3], `${what}: rejected permanent, service user, calling AE title not recognised`);
    t.match(last(), { decision: 'deny', reason: 'calling-ae-not-allowed' });
  }

  for (const [what, f] of [
    ['a backslash (not in the AE repertoire)', field('CTPAD\\')],
    ['a control character', field(Buffer.from('CTPAD\x01'))],
    ['a NUL inside the title', field(Buffer.from('CT\x00PAD'))],
    ['a byte above 0x7e', field(Buffer.from([0x43, 0x54, 0x50, 0x41, 0x44, 0xc9]))],
  ] as const) {
    const r = await associate(gw.dicomPort, gw.caPem, cert, key, f);
    t.not(r.type, PduType.AssociateAc, `${what}: no A-ASSOCIATE-AC (${String(r.type)})`);
  }
  t.notOk(gw.auditEvents('dicom.association').some((e) => e.decision === 'allow' && e.callingAe !== 'CTPAD'), 'every association allowed was CTPAD\'s');
});
