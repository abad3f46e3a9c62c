// Which PDU each side may send in each association state, checked on the PDU header (PS3.8 §9.2 state table).

import { AbortReason, PDU_NAMES, PduType, type PduTypeValue } from './constants.js';
import { PduError } from './pdu-error.js';
import type { PduHandler } from './pdu-reader.js';

/** States of a relayed association, from the acceptor side. */
export type AssociationState = 'awaiting-rq' | 'admitting' | 'awaiting-ac' | 'established' | 'releasing' | 'closed';
export type Side = 'client' | 'upstream';

/** PDU types each side may send in each state (PS3.8 §9.2, as seen by a relay between requestor and acceptor). */
export const EXPECTED_PDUS: Readonly<Record<Side, Readonly<Record<AssociationState, readonly number[]>>>> = Object.freeze({
  client: Object.freeze({
    'awaiting-rq': [PduType.AssociateRq, PduType.Abort],
    admitting: [PduType.Abort],
    'awaiting-ac': [PduType.Abort],
    established: [PduType.PData, PduType.ReleaseRq, PduType.ReleaseRp, PduType.Abort],
    releasing: [PduType.ReleaseRp, PduType.Abort],
    closed: [],
  }),
  upstream: Object.freeze({
    'awaiting-rq': [],
    admitting: [],
    'awaiting-ac': [PduType.AssociateAc, PduType.AssociateRj, PduType.Abort],
    established: [PduType.PData, PduType.ReleaseRq, PduType.ReleaseRp, PduType.Abort],
    releasing: [PduType.PData, PduType.ReleaseRp, PduType.ReleaseRq, PduType.Abort],
    closed: [],
  }),
});

/** Throws PduError (unexpected-PDU, PS3.8 Table 9-26 reason 2) for a PDU out of place. */
export function expectPdu(side: Side, state: AssociationState, type: PduTypeValue): void {
  if (state !== 'closed' && !EXPECTED_PDUS[side][state].includes(type)) {
    throw new PduError(`unexpected ${PDU_NAMES[type] ?? 'PDU'} from the ${side === 'client' ? 'client' : 'PACS'} in state ${state}`, AbortReason.UnexpectedPdu);
  }
}

/** P-DATA handlers that exist only once the association is established. */
export type PDataHandler = Omit<PduHandler, 'onPdu' | 'onPduHeader'>;

const NOT_YET: PDataHandler = {
  onPDataStart() { throw new PduError('P-DATA-TF before the association was accepted', AbortReason.UnexpectedPdu); },
  onPdv() { /* unreachable: onPDataStart throws */ },
  onFragment() { /* unreachable */ },
  onPdvEnd() { /* unreachable */ },
  onPDataEnd() { /* unreachable */ },
};

/**
 * A reader handler for one side: PDU types are checked against the state on their header
 * (before their length is looked at), whole PDUs go to `onPdu`, P-DATA events to `pdata()`.
 */
export function sideHandler(side: Side, state: () => AssociationState, onPdu: (t: PduTypeValue, raw: Buffer) => void, pdata: () => PDataHandler | undefined): PduHandler {
  const target = (): PDataHandler => pdata() ?? NOT_YET;
  return {
    onPduHeader: (type) => expectPdu(side, state(), type),
    onPdu,
    onPDataStart: (n, raw) => target().onPDataStart(n, raw),
    onPdv: (h, raw) => target().onPdv(h, raw),
    onFragment: (d) => target().onFragment(d),
    onPdvEnd: (h) => target().onPdvEnd(h),
    onPDataEnd: () => target().onPDataEnd(),
  };
}
