// What the gateway changes in association negotiation as it relays it: the RQ for the PACS, the AC for the client.

import type { AssociateAc, AssociateRq } from './associate-parse.js';
import { rewriteAssociate } from './associate-build.js';
import { ItemType, PresentationResult } from './constants.js';
import { userIdentityAcValue } from './user-identity.js';

/** Caps a Maximum Length value (0 = unlimited, PS3.8 Annex D.1) at the gateway's own PDU limit. */
export function capPdu(value: number | undefined, cap: number): number {
  return value === undefined || value === 0 || value > cap ? cap : value;
}

/**
 * The A-ASSOCIATE-RQ the PACS receives: called AE title set to the PACS's, the User Identity
 * sub-items removed (0x58, and a 0x59 that has no place in an RQ) — the PACS never sees
 * credentials or identity negotiation — and the client's receive limit
 * capped at maxPduBytes, so that what the PACS sends back stays within the gateway's PDU limit.
 */
export function requestForPacs(rq: AssociateRq, pacsAeTitle: string, maxPduBytes: number): Buffer {
  return rewriteAssociate(rq, {
    calledAe: pacsAeTitle,
    maxPduLength: capPdu(rq.maxPduLength, maxPduBytes),
    dropUserItems: [ItemType.UserIdentityRq, ItemType.UserIdentityAc],
  });
}

export interface ClientAccept {
  /** The A-ASSOCIATE-AC bytes for the client. */
  readonly bytes: Buffer;
  /** Accepted presentation contexts: ID → abstract syntax (from the RQ). */
  readonly contexts: ReadonlyMap<number, string>;
}

/**
 * The A-ASSOCIATE-AC the client receives: the called AE title it asked for (PS3.8 §9.3.3: the AC
 * echoes the RQ), the PACS's receive limit capped at maxPduBytes, any 0x58/0x59 from the PACS removed,
 * and — when `userIdentityResponse` — the gateway's own 0x59 (PS3.7 D.3.3.7.2, empty response).
 */
export function acceptForClient(ac: AssociateAc, rq: AssociateRq, maxPduBytes: number, userIdentityResponse: boolean): ClientAccept {
  const abstract = new Map(rq.presentationContexts.map((p) => [p.id, p.abstractSyntax]));
  const contexts = new Map<number, string>();
  for (const pc of ac.presentationContexts) {
    const as = abstract.get(pc.id);
    if (pc.result === PresentationResult.Acceptance && as !== undefined) contexts.set(pc.id, as);
  }
  const bytes = rewriteAssociate(ac, {
    calledAe: rq.calledAe,
    maxPduLength: capPdu(ac.maxPduLength, maxPduBytes),
    dropUserItems: [ItemType.UserIdentityRq, ItemType.UserIdentityAc],
    appendUserItems: userIdentityResponse ? [{ type: ItemType.UserIdentityAc, value: userIdentityAcValue() }] : [],
  });
  return { bytes, contexts };
}
