// What the DIMSE guard does with each whole PDU, per side and association state (PS3.8 §9.2, as a relay); the C-MOVE relay too.

import { AbortReason, PDU_NAMES, PduType, type PduTypeValue } from './constants.js';
import { PduError } from './pdu-error.js';
import type { AssociationState, Side } from './pdu-expectations.js';

/** What a PDU from the client leads to. */
export type ClientAction =
  /** A-ASSOCIATE-RQ: admission, then the upstream association. */
  | 'admit'
  /** A-ABORT: relayed to the PACS if it is associated, then both legs are torn down. */
  | 'client-aborted'
  /** A-RELEASE-RQ between commands: relayed, the association is releasing. */
  | 'request-release'
  /** A-RELEASE-RP to a release the PACS asked for, between commands: relayed, and the association is over. */
  | 'release-answered'
  /** A-RELEASE-RP in a release collision, between commands: relayed; the PACS's A-RELEASE-RP ends the association. */
  | 'answer-release';

/** What a PDU from the PACS leads to. */
export type UpstreamAction =
  /** A-ASSOCIATE-AC: the client gets its own AC, the guarded relay starts. */
  | 'accepted'
  /** A-ASSOCIATE-RJ: relayed to the client as it came. */
  | 'upstream-rejected'
  /** Anything else while the request is pending: the client gets an A-ASSOCIATE-RJ. */
  | 'upstream-out-of-turn'
  /** A-ABORT: relayed to the client. */
  | 'relay-abort'
  /** A-RELEASE-RQ or -RP: relayed to the client. */
  | 'relay-release'
  /** A-RELEASE-RP to the client's A-RELEASE-RQ: relayed, and the association is over. */
  | 'released';

type Row<A> = Readonly<Partial<Record<PduTypeValue, A>>>;
type Table<A> = Readonly<Record<AssociationState, Row<A>>>;

/**
 * Client PDUs (P-DATA-TF goes to the request filter, never here). Whatever is not listed is an
 * unexpected PDU (A-ABORT reason 2). An A-RELEASE-RP while releasing is a release collision
 * (PS3.8 §9.2.6: the PACS asked too, and the client answers it before the PACS answers the client).
 * Once 'closed', nothing is dispatched at all: the readers are halted (Association#ended), so
 * that row is empty, as the reader's is.
 */
export const CLIENT_TRANSITIONS: Table<ClientAction> = Object.freeze({
  'awaiting-rq': { [PduType.AssociateRq]: 'admit', [PduType.Abort]: 'client-aborted' },
  admitting: { [PduType.Abort]: 'client-aborted' },
  'awaiting-ac': { [PduType.Abort]: 'client-aborted' },
  established: { [PduType.ReleaseRq]: 'request-release', [PduType.ReleaseRp]: 'release-answered', [PduType.Abort]: 'client-aborted' },
  releasing: { [PduType.ReleaseRp]: 'answer-release', [PduType.Abort]: 'client-aborted' },
  closed: {},
});

/** PACS PDUs, likewise (there is no upstream connection before 'awaiting-ac'). */
export const UPSTREAM_TRANSITIONS: Table<UpstreamAction> = Object.freeze({
  'awaiting-rq': {},
  admitting: {},
  'awaiting-ac': { [PduType.AssociateAc]: 'accepted', [PduType.AssociateRj]: 'upstream-rejected', [PduType.Abort]: 'upstream-out-of-turn' },
  established: { [PduType.ReleaseRq]: 'relay-release', [PduType.ReleaseRp]: 'relay-release', [PduType.Abort]: 'relay-abort' },
  releasing: { [PduType.ReleaseRq]: 'relay-release', [PduType.ReleaseRp]: 'released', [PduType.Abort]: 'relay-abort' },
  closed: {},
});

/** The unexpected-PDU protocol violation (PS3.8 Table 9-26 reason 2) for a PDU out of place. */
export function unexpectedPdu(side: Side, state: AssociationState, type: PduTypeValue): PduError {
  return new PduError(`unexpected ${PDU_NAMES[type] ?? 'PDU'} from the ${side === 'client' ? 'client' : 'PACS'} in state ${state}`, AbortReason.UnexpectedPdu);
}

/** The client's action for `type` in `state`; throws the unexpected-PDU violation for anything not listed. */
export function clientAction(state: AssociationState, type: PduTypeValue): ClientAction {
  const action = CLIENT_TRANSITIONS[state][type];
  if (action === undefined) throw unexpectedPdu('client', state, type);
  return action;
}

/** The PACS's action for `type` in `state`; throws the unexpected-PDU violation for anything not listed. */
export function upstreamAction(state: AssociationState, type: PduTypeValue): UpstreamAction {
  const action = UPSTREAM_TRANSITIONS[state][type];
  if (action === undefined) throw unexpectedPdu('upstream', state, type);
  return action;
}
