// Command sets: decode, failure responses for every command (PS3.7 Annex E), and hostile encodings.

import t from 'tap';
import { buildCommandSet, buildFailureResponse, canRespond, type CommandValue } from '../../src/dicom/command-build.js';
import { commandName, decodeCommandSet } from '../../src/dicom/command-set.js';
import { AbortReason, CommandField, CommandTag, Status } from '../../src/dicom/constants.js';
import { throwsPdu } from './helpers/assert.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const INSTANCE = '1.2.3.4.5.6.7';

function request(field: number, extra: Array<readonly [number, CommandValue]> = []): ReturnType<typeof decodeCommandSet> {
  return decodeCommandSet(buildCommandSet([
    [CommandTag.CommandField, { us: field }], [CommandTag.MessageId, { us: 7 }], [CommandTag.CommandDataSetType, { us: 0x0000 }], ...extra,
  ]));
}

t.test('decodes a C-STORE-RQ', async (t) => {
  const raw = buildCommandSet([
    [CommandTag.AffectedSopClassUid, { ui: CT }], [CommandTag.CommandField, { us: CommandField.CStoreRq }],
    [CommandTag.MessageId, { us: 42 }], [CommandTag.Priority, { us: 0 }], [CommandTag.CommandDataSetType, { us: 0x0000 }],
    [CommandTag.AffectedSopInstanceUid, { ui: INSTANCE }],
  ]);
  t.equal(raw.readUInt32LE(8), raw.length - 12, 'group length counts the bytes after it');
  const cmd = decodeCommandSet(raw);
  t.equal(cmd.commandField, CommandField.CStoreRq);
  t.equal(cmd.messageId, 42);
  t.equal(cmd.affectedSopClassUid, CT, 'NUL padding removed');
  t.equal(cmd.affectedSopInstanceUid, INSTANCE);
  t.notOk(cmd.isResponse);
  t.equal(cmd.dataSetType, 0);
  t.equal(commandName(cmd.commandField), 'C-STORE-RQ');
  t.equal(commandName(0x8021), 'C-MOVE-RSP');
  t.equal(commandName(0x1234), '0x1234');
});

t.test('a failure response for every request type echoes what PS3.7 Annex E asks', async (t) => {
  const cases: Array<[number, number, boolean]> = [
    [CommandField.CStoreRq, 0x8001, true], [CommandField.CFindRq, 0x8020, false], [CommandField.CGetRq, 0x8010, false],
    [CommandField.CMoveRq, 0x8021, false], [CommandField.CEchoRq, 0x8030, false],
    [CommandField.NEventReportRq, 0x8100, true], [CommandField.NGetRq, 0x8110, true], [CommandField.NSetRq, 0x8120, true],
    [CommandField.NActionRq, 0x8130, true], [CommandField.NCreateRq, 0x8140, true], [CommandField.NDeleteRq, 0x8150, true],
  ];
  for (const [field, rspField, echoesInstance] of cases) {
    const n = field >= 0x0100 && field !== CommandField.CCancelRq;
    const req = request(field, n
      ? [[CommandTag.RequestedSopClassUid, { ui: CT }], [CommandTag.RequestedSopInstanceUid, { ui: INSTANCE }]]
      : [[CommandTag.AffectedSopClassUid, { ui: CT }], [CommandTag.AffectedSopInstanceUid, { ui: INSTANCE }]]);
    t.ok(canRespond(req));
    const rsp = decodeCommandSet(buildFailureResponse(req, { comment: 'Refused by gateway: role-lacks-action' }));
    const name = commandName(field);
    t.equal(rsp.commandField, rspField, `${name}: response command field`);
    t.ok(rsp.isResponse);
    t.equal(rsp.messageIdBeingRespondedTo, 7, `${name}: Message ID Being Responded To`);
    t.equal(rsp.status, Status.RefusedNotAuthorized, `${name}: 0x0124`);
    t.equal(rsp.dataSetType, 0x0101, `${name}: no data set`);
    t.equal(rsp.affectedSopClassUid, CT, `${name}: Affected SOP Class UID`);
    t.equal(rsp.affectedSopInstanceUid, echoesInstance ? INSTANCE : undefined, `${name}: Affected SOP Instance UID`);
    t.equal(rsp.elements.get(CommandTag.ErrorComment)?.toString('latin1').trim(), 'Refused by gateway: role-lacks-action');
  }
});

t.test('what cannot be answered', async (t) => {
  t.notOk(canRespond(request(CommandField.CCancelRq)));
  t.notOk(canRespond(request(0x8001)), 'a response');
  t.notOk(canRespond(decodeCommandSet(buildCommandSet([[CommandTag.CommandField, { us: 1 }], [CommandTag.CommandDataSetType, { us: 0x101 }]]))), 'no Message ID');
  t.throws(() => buildFailureResponse(request(CommandField.CCancelRq)), TypeError);
  t.throws(() => buildCommandSet([[CommandTag.CommandGroupLength, { us: 1 }]]), TypeError);
  const long = decodeCommandSet(buildFailureResponse(request(CommandField.CEchoRq), { comment: `é${'x'.repeat(100)}`, status: 0xa700 }));
  t.equal(long.elements.get(CommandTag.ErrorComment)?.length, 64, 'Error Comment capped at 64 (LO)');
  t.equal(long.status, 0xa700);
});

function element(group: number, el: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(el, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}
const us = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(n, 0); return b; };

t.test('hostile command sets are refused with invalid-PDU-parameter value', async (t) => {
  const base = [element(0, 0x0100, us(0x30)), element(0, 0x0110, us(1)), element(0, 0x0800, us(0x101))];
  t.equal(decodeCommandSet(Buffer.concat(base)).commandField, 0x30, 'group length is optional');
  const bad = (bytes: Buffer, pattern: RegExp): void => throwsPdu(t, () => decodeCommandSet(bytes), AbortReason.InvalidPduParameterValue, pattern);
  bad(Buffer.concat([...base, element(0x0008, 0x0016, Buffer.from('12'))]), /outside group 0000 \(0008,0016\)/);
  bad(Buffer.concat([base[1] as Buffer, base[0] as Buffer, base[2] as Buffer]), /out of order or repeated/);
  bad(Buffer.concat([...base.slice(0, 2), element(0, 0x0600, Buffer.from('DEST')), element(0, 0x0600, Buffer.from('EVIL')), base[2] as Buffer]), /out of order or repeated/);
  bad(Buffer.concat([...base, element(0, 0x1000, Buffer.from('1.2.3'))]), /odd value length 5/);
  bad(Buffer.concat([...base, Buffer.from([0, 0, 0, 0x10, 0xfe, 0xff, 0xff, 0x7f])]), /needs 2147483646 bytes/);
  bad(Buffer.concat([...base, Buffer.from([0, 0, 0])]), /tag element needs 2 bytes/);
  const gl = Buffer.alloc(4);
  gl.writeUInt32LE(3, 0);
  bad(Buffer.concat([element(0, 0, gl), ...base]), /Command Group Length does not match/);
  bad(Buffer.concat([element(0, 0x0100, Buffer.from([1, 0, 0, 0])), base[1] as Buffer, base[2] as Buffer]), /Command Field must be 2 bytes/);
  bad(Buffer.concat(base.slice(1)), /no Command Field/);
  bad(Buffer.concat(base.slice(0, 2)), /no Command Data Set Type/);
});
