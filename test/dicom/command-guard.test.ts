// Command guard decisions, and the client → PACS filter / PACS → client relay around them.

import t from 'tap';
import type { RoleRules } from '../../src/config/types.js';
import type { Principal } from '../../src/identity/principal.js';
import { buildCommandSet, type CommandValue } from '../../src/dicom/command-build.js';
import { decideCommand, type GuardInput } from '../../src/dicom/command-guard.js';
import { decodeCommandSet } from '../../src/dicom/command-set.js';
import { AbortReason, CommandField, CommandTag, Status } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { PduReader } from '../../src/dicom/pdu-reader.js';
import { RequestFilter } from '../../src/dicom/request-filter.js';
import { ResponseRelay } from '../../src/dicom/response-relay.js';
import { throwsPdu } from './helpers/assert.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const MR = '1.2.840.10008.5.1.4.1.1.4';
const FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const MOVE = '1.2.840.10008.5.1.4.1.2.2.2';
const ECHO = '1.2.840.10008.1.1';
const MPPS = '1.2.840.10008.3.1.2.3.3';

const roles: Record<string, RoleRules> = {
  reader: { actions: ['echo', 'search'], moveDestinations: [], storeSopClasses: [] },
  mover: { actions: ['move'], moveDestinations: ['WS1'], storeSopClasses: [] },
  ct: { actions: ['store'], moveDestinations: [], storeSopClasses: [CT] },
  modality: { actions: ['store', 'n-services'], moveDestinations: [], storeSopClasses: [] },
};
const user = (role: string, extra: Partial<Principal> = {}): Principal => ({ id: 'u', kind: 'user', role, method: 'dicom-user-password-totp', ...extra });

function cmd(field: number, sopClass: string, extra: Array<readonly [number, CommandValue]> = [], dataSetType = 0x0101): ReturnType<typeof decodeCommandSet> {
  const n = field >= 0x0100 && field !== 0x0fff;
  return decodeCommandSet(buildCommandSet([
    [n ? CommandTag.RequestedSopClassUid : CommandTag.AffectedSopClassUid, { ui: sopClass }],
    [CommandTag.CommandField, { us: field }], [CommandTag.MessageId, { us: 3 }], [CommandTag.CommandDataSetType, { us: dataSetType }], ...extra,
  ]));
}
const input = (role: string, abstractSyntax: string, extra: Partial<GuardInput> = {}): GuardInput => ({ roles, principal: user(role), principalValid: true, abstractSyntax, ...extra });

t.test('requests map to actions and are decided by role', async (t) => {
  t.match(decideCommand(cmd(CommandField.CEchoRq, ECHO), input('reader', ECHO)), { kind: 'allow', action: 'echo', name: 'C-ECHO-RQ' });
  t.match(decideCommand(cmd(CommandField.CFindRq, FIND), input('reader', FIND)), { kind: 'allow', action: 'search' });
  const store = decideCommand(cmd(CommandField.CStoreRq, CT), input('reader', CT));
  t.match(store, { kind: 'refuse', action: 'store', reason: 'role-lacks-action' });
  if (store.kind === 'refuse') t.equal(decodeCommandSet(store.response).status, Status.RefusedNotAuthorized);
  t.match(decideCommand(cmd(CommandField.CGetRq, MOVE), input('reader', MOVE)), { kind: 'refuse', action: 'retrieve' });
});

t.test('C-MOVE destination allow-list, from the role or the principal', async (t) => {
  const move = (dest: string): ReturnType<typeof decodeCommandSet> => cmd(CommandField.CMoveRq, MOVE, [[CommandTag.MoveDestination, { text: dest }]]);
  t.match(decideCommand(move('WS1'), input('mover', MOVE)), { kind: 'allow' });
  t.match(decideCommand(move('EVIL'), input('mover', MOVE)), { kind: 'refuse', reason: 'move-destination-not-allowed' });
  t.match(decideCommand(move('WS2'), input('mover', MOVE, { principal: user('mover', { moveDestinations: ['WS2'] }) })), { kind: 'allow' });
  t.match(decideCommand(cmd(CommandField.CMoveRq, MOVE), input('mover', MOVE)), { kind: 'refuse', reason: 'move-destination-not-allowed' }, 'no destination');
});

t.test('C-STORE SOP class allow-list and SOP class / presentation context mismatch', async (t) => {
  t.match(decideCommand(cmd(CommandField.CStoreRq, CT), input('ct', CT)), { kind: 'allow' });
  t.match(decideCommand(cmd(CommandField.CStoreRq, MR), input('ct', MR)), { kind: 'refuse', reason: 'sop-class-not-allowed' });
  t.match(decideCommand(cmd(CommandField.CStoreRq, CT), input('ct', MR)), { kind: 'refuse', reason: 'sop-class-mismatch' }, 'command says CT, context negotiated MR');
  t.match(decideCommand(cmd(CommandField.CStoreRq, MR), input('modality', MR)), { kind: 'allow' }, 'no allow-list: any class');
});

t.test('N-services need the n-services action; responses and C-CANCEL pass', async (t) => {
  t.match(decideCommand(cmd(CommandField.NCreateRq, MPPS), input('reader', MPPS)), { kind: 'refuse', action: 'n-services', reason: 'role-lacks-action' });
  t.match(decideCommand(cmd(CommandField.NSetRq, MPPS), input('modality', MPPS)), { kind: 'allow', action: 'n-services' });
  t.match(decideCommand(cmd(0x8001, CT), input('reader', CT)), { kind: 'pass', reason: 'response', name: 'C-STORE-RSP' });
  const cancel = decodeCommandSet(buildCommandSet([[CommandTag.CommandField, { us: 0x0fff }], [CommandTag.MessageIdBeingRespondedTo, { us: 3 }], [CommandTag.CommandDataSetType, { us: 0x0101 }]]));
  t.match(decideCommand(cancel, input('reader', FIND)), { kind: 'pass', reason: 'cancel' });
});

t.test('a principal found invalid is refused everything; unknown commands abort', async (t) => {
  t.match(decideCommand(cmd(CommandField.CEchoRq, ECHO), input('reader', ECHO, { principalValid: false })), { kind: 'refuse', reason: 'principal-no-longer-valid' });
  t.match(decideCommand(cmd(CommandField.CEchoRq, ECHO), input('nosuchrole', ECHO)), { kind: 'refuse', reason: 'role-unknown' });
  throwsPdu(t, () => decideCommand(cmd(0x0042, ECHO), input('reader', ECHO)), AbortReason.UnrecognizedPduParameter, /unrecognized DIMSE command field 0x42/);
  const noId = decodeCommandSet(buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: ECHO }], [CommandTag.CommandField, { us: 0x30 }], [CommandTag.CommandDataSetType, { us: 0x0101 }]]));
  throwsPdu(t, () => decideCommand(noId, input('reader', ECHO)), AbortReason.InvalidPduParameterValue, /no Message ID/);
});

// ---- the filter -------------------------------------------------------------------------------

const contexts = new Map([[1, ECHO], [3, CT], [5, FIND]]);

function filterFor(role: string): { filter: RequestFilter; reader: PduReader; decisions: string[] } {
  const decisions: string[] = [];
  const filter = new RequestFilter({
    maxCommandBytes: 1024, contexts, clientMaxFragment: 16378,
    decide: (c, as) => {
      const d = decideCommand(c, input(role, as));
      decisions.push(`${d.name}:${d.kind}`);
      return d;
    },
  });
  const reader = new PduReader({ onPdu: () => { throw new Error('no'); }, onPDataStart: () => filter.onPDataStart(), onPdv: (h) => filter.onPdv(h), onFragment: (d) => filter.onFragment(d), onPdvEnd: (h) => filter.onPdvEnd(h), onPDataEnd: () => filter.onPDataEnd() }, { maxAssociateBytes: 1 << 16, maxPDataBytes: 1 << 20 });
  return { filter, reader, decisions };
}

function storeMessage(pixels: Buffer): Buffer {
  const c = buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: CT }], [CommandTag.CommandField, { us: 1 }], [CommandTag.MessageId, { us: 9 }], [CommandTag.CommandDataSetType, { us: 0 }], [CommandTag.AffectedSopInstanceUid, { ui: '1.2.3.4' }]]);
  return Buffer.concat([buildPData(3, true, c, 40), buildPData(3, false, pixels, 1000)]);
}
const echoMessage = buildPData(1, true, buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: ECHO }], [CommandTag.CommandField, { us: 0x30 }], [CommandTag.MessageId, { us: 10 }], [CommandTag.CommandDataSetType, { us: 0x0101 }]]));

t.test('an allowed C-STORE streams through unchanged, data fragments as views', async (t) => {
  const { filter, reader, decisions } = filterFor('modality');
  const msg = storeMessage(Buffer.alloc(5000, 0xab));
  for (let i = 0; i < msg.length; i += 777) reader.push(msg.subarray(i, i + 777));
  t.same(decisions, ['C-STORE-RQ:allow']);
  t.same(Buffer.concat(filter.toUpstream), msg, 'the bytes that reach the PACS are the bytes sent');
  t.same(filter.toClient, []);
  t.ok(filter.idle);
});

t.test('a refused C-STORE: data dropped, response after the data set, association usable', async (t) => {
  const { filter, reader, decisions } = filterFor('reader');
  const msg = storeMessage(Buffer.alloc(5000, 0xab));
  reader.push(msg.subarray(0, 2000));
  t.same(filter.toUpstream, [], 'nothing forwarded');
  t.same(filter.toClient, [], 'no response before the data set has been consumed');
  reader.push(msg.subarray(2000));
  t.equal(filter.toClient.length, 1);
  const rsp = filter.toClient[0] as Buffer;
  t.equal(rsp.readUInt8(11), 0x03, 'one command PDV, last fragment');
  const decoded = decodeCommandSet(rsp.subarray(12));
  t.match(decoded, { commandField: 0x8001, messageIdBeingRespondedTo: 9, status: 0x0124, affectedSopInstanceUid: '1.2.3.4' });
  filter.toClient.length = 0;
  reader.push(echoMessage);
  t.same(decisions, ['C-STORE-RQ:refuse', 'C-ECHO-RQ:allow']);
  t.same(Buffer.concat(filter.toUpstream), echoMessage);
});

t.test('the filter refuses malformed message sequences', async (t) => {
  const data = buildPData(3, false, Buffer.alloc(10));
  throwsPdu(t, () => filterFor('reader').reader.push(data), AbortReason.UnexpectedPduParameter, /without a command/);
  throwsPdu(t, () => filterFor('reader').reader.push(buildPData(7, true, Buffer.alloc(10))), AbortReason.InvalidPduParameterValue, /context 7, which was not accepted/);
  const store = storeMessage(Buffer.alloc(100));
  const commandOnly = store.subarray(0, store.length - 112);
  throwsPdu(t, () => filterFor('modality').reader.push(Buffer.concat([commandOnly, echoMessage])), AbortReason.UnexpectedPduParameter, /before the previous data set ended/);
  throwsPdu(t, () => filterFor('modality').reader.push(Buffer.concat([commandOnly, buildPData(5, false, Buffer.alloc(4))])), AbortReason.UnexpectedPduParameter, /different presentation context/);
  const firstFragment = buildPData(3, true, Buffer.alloc(40), 20).subarray(0, 32);
  throwsPdu(t, () => filterFor('modality').reader.push(Buffer.concat([firstFragment, data])), AbortReason.UnexpectedPduParameter, /before the command set ended/);
  throwsPdu(t, () => filterFor('modality').reader.push(Buffer.concat([firstFragment, buildPData(5, true, Buffer.alloc(4))])), AbortReason.UnexpectedPduParameter, /switched presentation context/);
  throwsPdu(t, () => filterFor('modality').reader.push(buildPData(1, true, Buffer.alloc(2000), 1500)), AbortReason.InvalidPduParameterValue, /exceeds the limit of 1024/);
});

t.test('the relay passes PACS bytes unchanged and knows message boundaries', async (t) => {
  const relay = new ResponseRelay(1024);
  const reader = new PduReader({ onPdu: () => undefined, onPDataStart: (n, r) => relay.onPDataStart(n, r), onPdv: (h, r) => relay.onPdv(h, r), onFragment: (d) => relay.onFragment(d), onPdvEnd: (h) => relay.onPdvEnd(h), onPDataEnd: () => relay.onPDataEnd() }, { maxAssociateBytes: 1 << 16, maxPDataBytes: 1 << 20 });
  const pending = buildPData(5, true, buildCommandSet([[CommandTag.AffectedSopClassUid, { ui: FIND }], [CommandTag.CommandField, { us: 0x8020 }], [CommandTag.MessageIdBeingRespondedTo, { us: 1 }], [CommandTag.CommandDataSetType, { us: 0 }], [CommandTag.Status, { us: 0xff00 }]]));
  const identifier = buildPData(5, false, Buffer.alloc(300, 1), 100);
  t.ok(relay.atMessageBoundary);
  reader.push(pending);
  t.notOk(relay.atMessageBoundary, 'a data set is announced');
  reader.push(identifier.subarray(0, 150));
  t.notOk(relay.atMessageBoundary);
  reader.push(identifier.subarray(150));
  t.ok(relay.atMessageBoundary);
  t.same(Buffer.concat(relay.toClient), Buffer.concat([pending, identifier]));
  throwsPdu(t, () => reader.push(Buffer.concat([pending, pending])), AbortReason.UnexpectedPduParameter, /before its previous data set ended/);
  const big = new ResponseRelay(16);
  throwsPdu(t, () => big.onPdv({ pcId: 1, control: 3, isCommand: true, isLast: true, fragmentLength: 17 }, Buffer.alloc(6)), AbortReason.InvalidPduParameterValue, /larger than the limit/);
});
