// The admission of the legacy port: a device is its source address and calling AE title; credentials are refused unread.

import type { AlertName } from '../audit/audit.js';
import type { Principal } from '../identity/principal.js';
import type { Admission } from './admission.js';
import { checkRequest } from './admission.js';
import type { AssociateRq } from './associate-parse.js';
import { UserIdentityType } from './constants.js';
import type { LegacyEntry } from './legacy-devices.js';
import { Refusal } from './reject.js';

/**
 * Decides an A-ASSOCIATE-RQ on listen.dicomLegacy, from one of `candidates` (the legacy devices
 * whose addresses hold the source: the listener closed the connection unread when there were none).
 * Order: the request's own checks (as on the TLS port); then a User Identity sub-item is refused
 * (1/1/1): the port is cleartext, so a password or token must never be accepted on it, and a client
 * that offers one must not believe it was admitted as that user (a credential that arrived is
 * already exposed: alert, so it can be changed); then the calling AE title must be one of a
 * candidate's (1/1/3 otherwise). Admitted: a `legacy-device` principal with the device's role.
 */
export function admitLegacy(rq: AssociateRq, candidates: readonly LegacyEntry[]): Admission {
  const malformed = checkRequest(rq);
  if (malformed !== undefined) return malformed;
  const id = rq.userIdentity;
  if (id !== undefined) {
    const secret = id.type !== UserIdentityType.Username;
    // A username (types 1 and 2) is named in the audit trail like any claimed identity; a secret never.
    const named = id.type === UserIdentityType.Username || id.type === UserIdentityType.UsernameAndPasscode ? id.primary.toString('utf8').slice(0, 64) : undefined;
    return {
      ok: false, rejection: Refusal.notAuthenticated, reason: 'user-identity-on-cleartext-port', userIdentityType: id.type,
      detail: `User Identity negotiation (type ${id.type}) is refused on the legacy port: credentials must not travel in cleartext; use the TLS port`,
      ...(named === undefined ? {} : { named }),
      ...(secret ? { alert: 'dicom.cleartext-credential' as AlertName } : {}),
    };
  }
  const device = candidates.find((c) => c.aeTitles.includes(rq.callingAe));
  if (device === undefined) {
    return { ok: false, rejection: Refusal.callingAeNotRecognized, reason: 'calling-ae-not-allowed', detail: rq.callingAe, named: candidates.map((c) => c.name).join(',') };
  }
  const principal: Principal = { id: device.name, kind: 'legacy-device', role: device.role, method: 'source-address', aeTitles: device.aeTitles };
  return { ok: true, principal, via: 'legacy-address' };
}
