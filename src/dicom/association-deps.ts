// What one DIMSE guard association is given by its listener (server.ts, legacy-server.ts).

import type { Audit } from '../audit/audit.js';
import type { Logger } from '../audit/logger.js';
import type { GatewayConfig } from '../config/types.js';
import type { IdentityResolver } from '../identity/resolver.js';
import type { ResumedCertificateCheck } from '../tls/resumed-peer-check.js';
import type { Clock } from '../util/clock.js';
import type { Admission, AdmissionContext } from './admission.js';
import type { AssociateRq } from './associate-parse.js';
import type { AssociationLimits } from './limits.js';

export interface AssociationDeps {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly audit: Audit;
  readonly identity: IdentityResolver;
  readonly limits: AssociationLimits;
  /** How often an admitted principal is re-checked with identity.stillValid, and the lifetime checked. */
  readonly revalidateMs: number;
  /** The gateway's clock (injected in tests): dicom.maxAssociationHours is measured with it. */
  readonly clock: Clock;
  /**
   * A cleartext port (listen.dicomLegacy): the client socket is plain TCP, `admission` decides
   * instead of certificates and User Identity, and the audit events say `channel: cleartext`.
   */
  readonly cleartext?: { readonly admission: (rq: AssociateRq, context: AdmissionContext) => Admission };
  /** Checks a resumed session's client certificate against the TLS material in force (resumed-peer-check.ts). */
  readonly recheckPeer?: ResumedCertificateCheck;
}
