// The association's transition tables against the reader's: a PDU the reader lets through has an action, and no other.

import t from 'tap';
import { AbortReason, PDU_NAMES, PduType, type PduTypeValue } from '../../src/dicom/constants.js';
import { CLIENT_TRANSITIONS, UPSTREAM_TRANSITIONS, clientAction, upstreamAction } from '../../src/dicom/association-transitions.js';
import { PduError } from '../../src/dicom/pdu-error.js';
import { EXPECTED_PDUS, expectPdu, type AssociationState, type Side } from '../../src/dicom/pdu-expectations.js';

const STATES: readonly AssociationState[] = ['awaiting-rq', 'admitting', 'awaiting-ac', 'established', 'releasing', 'closed'];
const TYPES = Object.values(PduType) as PduTypeValue[];
const SIDES: readonly Side[] = ['client', 'upstream'];
const tables = { client: CLIENT_TRANSITIONS, upstream: UPSTREAM_TRANSITIONS } as const;
const lookup = { client: clientAction, upstream: upstreamAction } as const;

function threw(fn: () => unknown): PduError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof PduError) return err;
    throw err;
  }
  return undefined;
}

t.test('every PDU the reader lets through has an action, and only those', async (t) => {
  for (const side of SIDES) {
    for (const state of STATES) {
      for (const type of TYPES.filter((ty) => ty !== PduType.PData)) {
        const readerLets = EXPECTED_PDUS[side][state].includes(type);
        const action = tables[side][state][type];
        const where = `${side} ${state} ${PDU_NAMES[type]}`;
        t.equal(action !== undefined, readerLets, `${where}: ${readerLets ? 'let through, so has an action' : 'refused by the reader, so has no action'}`);
      }
    }
  }
});

t.test('P-DATA-TF goes to the request filter / response relay, never to a transition', async (t) => {
  for (const side of SIDES) {
    for (const state of STATES) t.equal(tables[side][state][PduType.PData], undefined, `${side} ${state}`);
  }
});

t.test('once closed, no PDU has an action (the readers are halted; nothing is dispatched after the end)', async (t) => {
  t.same(CLIENT_TRANSITIONS.closed, {});
  t.same(UPSTREAM_TRANSITIONS.closed, {});
  t.same(UPSTREAM_TRANSITIONS['awaiting-rq'], {}, 'no upstream connection yet');
  t.same(UPSTREAM_TRANSITIONS.admitting, {}, 'no upstream connection yet');
});

t.test('anything not listed is the unexpected-PDU violation, worded as the reader words it', async (t) => {
  for (const side of SIDES) {
    for (const state of STATES) {
      for (const type of [...TYPES, 0x08 as PduTypeValue]) {
        if (tables[side][state][type] !== undefined) {
          t.equal(lookup[side](state, type), tables[side][state][type]);
          continue;
        }
        const err = threw(() => lookup[side](state, type));
        const where = `${side} ${state} ${PDU_NAMES[type] ?? type}`;
        t.equal(err?.abortReason, AbortReason.UnexpectedPdu, where);
        const who = side === 'client' ? 'client' : 'PACS';
        t.equal(err?.message, `unexpected ${PDU_NAMES[type] ?? 'PDU'} from the ${who} in state ${state}`, where);
        if (state !== 'closed' && !EXPECTED_PDUS[side][state].includes(type)) t.equal(threw(() => expectPdu(side, state, type))?.message, err?.message, `${where}: same words as the reader`);
      }
    }
  }
});
