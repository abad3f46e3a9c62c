// The outcome report of an association: each request's final response, as a DimseOutcome for the audit listeners.

import type { Audit } from '../audit/audit.js';
import type { Principal } from '../identity/principal.js';
import type { ConnectionFacts } from './association-audit.js';
import type { RelayedResult } from './response-relay.js';

/** The ResponseRelay's report callback for an admitted association; undefined when nobody listens (no tracking at all). */
export function resultReporter(audit: Audit, facts: ConnectionFacts, principal: Principal): ((r: RelayedResult) => void) | undefined {
  if (!audit.listening) return undefined;
  return (r) => {
    audit.outcome({
      kind: 'dicom', principal: principal.id, role: principal.role, method: principal.method, principalKind: principal.kind,
      source: facts.source, associationId: facts.associationId, callingAe: facts.callingAe, calledAe: facts.calledAe, ...r,
    });
  };
}
