// Matching the PACS's C-STORE sub-operations to the C-MOVE the DIMSE guard forwarded: by originator AE, message ID and destination.

import { Writable } from 'node:stream';
import t from 'tap';
import { Audit } from '../../src/audit/audit.js';
import { createLogger } from '../../src/audit/logger.js';
import { MoveRegistry } from '../../src/relay/move-registry.js';

function setup(): { audit: Audit; moves: MoveRegistry; now: { ms: number } } {
  const logger = createLogger({ level: 'fatal', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
  const now = { ms: 1_000_000 };
  const audit = new Audit(logger, () => now.ms);
  return { audit, moves: new MoveRegistry(audit, () => now.ms), now };
}

const move = (o: { principal: string; associationId: string; callingAe?: string; messageId?: number; moveDestination?: string; decision?: 'allow' | 'deny'; command?: string }): Parameters<Audit['record']>[0] => ({
  event: 'dicom.command', decision: o.decision ?? 'allow', reason: 'role-allows', principal: o.principal, source: '10.1.2.3',
  associationId: o.associationId, callingAe: o.callingAe ?? 'WS01', command: o.command ?? 'C-MOVE-RQ', messageId: o.messageId ?? 1, moveDestination: o.moveDestination ?? 'REMOTEWS',
});

t.test('matches an allowed C-MOVE by originator AE, message ID and destination', async (t) => {
  const { audit, moves } = setup();
  audit.record(move({ principal: 'rita', associationId: 'a1' }));
  t.match(moves.match('WS01', 1, 'REMOTEWS'), { move: { principal: 'rita', associationId: 'a1', source: '10.1.2.3' }, ambiguous: false });
  t.equal(moves.match('WS01', 2, 'REMOTEWS'), undefined, 'another message ID');
  t.equal(moves.match('WS02', 1, 'REMOTEWS'), undefined, 'another originator AE');
  t.equal(moves.match('WS01', 1, 'ELSEWHERE'), undefined, 'the PACS sending to another destination than the move named');
});

t.test('refused moves and other commands are not remembered', async (t) => {
  const { audit, moves } = setup();
  audit.record(move({ principal: 'eve', associationId: 'a1', decision: 'deny' }));
  audit.record(move({ principal: 'eve', associationId: 'a2', command: 'C-GET-RQ' }));
  t.equal(moves.match('WS01', 1, 'REMOTEWS'), undefined);
});

/** The PACS's final C-MOVE-RSP as the DIMSE guard reports it. */
const ended = (associationId: string, status = 0): Parameters<Audit['outcome']>[0] => ({
  kind: 'dicom', principal: 'x', role: 'mover', method: 'mtls', principalKind: 'device', source: '10.1.2.3', associationId,
  callingAe: 'WS01', calledAe: 'GATEWAY', command: 'C-MOVE', messageId: 1, status, sopClassUid: undefined, seconds: 1,
});

t.test('message IDs reused by a later association: the running move is the match, ended ones are not ambiguous', async (t) => {
  const { audit, moves, now } = setup();
  audit.record(move({ principal: 'rita', associationId: 'a1' }));
  audit.outcome(ended('a1', 0xff00));
  t.match(moves.match('WS01', 1, 'REMOTEWS'), { move: { principal: 'rita' }, ambiguous: false }, 'a pending response does not end it');
  audit.outcome(ended('a1'));
  now.ms += 1000;
  audit.record(move({ principal: 'theo', associationId: 'a2' }));
  t.match(moves.match('WS01', 1, 'REMOTEWS'), { move: { principal: 'theo', associationId: 'a2' }, ambiguous: false });
  audit.outcome(ended('a2'));
  t.match(moves.match('WS01', 1, 'REMOTEWS'), { move: { principal: 'theo' }, ambiguous: false }, 'all ended: the latest');
});

t.test('two running moves with the same originator and message ID: the latest, marked ambiguous; old moves expire', async (t) => {
  const { audit, moves, now } = setup();
  audit.record(move({ principal: 'rita', associationId: 'a1' }));
  now.ms += 1000;
  audit.record(move({ principal: 'theo', associationId: 'a2' }));
  t.match(moves.match('WS01', 1, 'REMOTEWS'), { move: { principal: 'theo' }, ambiguous: true });
  now.ms += 7 * 3_600_000;
  t.equal(moves.match('WS01', 1, 'REMOTEWS'), undefined, 'older than six hours');
  moves.close();
  audit.record(move({ principal: 'rita', associationId: 'a3', messageId: 5 }));
  t.equal(moves.match('WS01', 5, 'REMOTEWS'), undefined, 'closed: no longer listening');
});

t.test('bounded: the oldest moves go first', async (t) => {
  const { audit, moves } = setup();
  for (let i = 0; i < 4100; i++) audit.record(move({ principal: `p${i}`, associationId: `a${i}`, messageId: i % 65536 }));
  t.equal(moves.match('WS01', 0, 'REMOTEWS'), undefined, 'the first ones were dropped');
  t.match(moves.match('WS01', 4099, 'REMOTEWS'), { move: { principal: 'p4099' } });
});
