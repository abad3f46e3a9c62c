// The error every DICOM parser throws for bad input; it carries the A-ABORT reason it maps to.

import { GatewayError } from '../errors.js';
import { AbortReason, type AbortReasonValue } from './constants.js';

/**
 * A malformed or unexpected PDU, PDV or command set. `abortReason` is the A-ABORT
 * Reason/Diag. (PS3.8 §9.3.8 Table 9-26, source 2 = service-provider) the gateway answers with.
 */
export class PduError extends GatewayError {
  readonly abortReason: AbortReasonValue;

  constructor(message: string, abortReason: AbortReasonValue = AbortReason.InvalidPduParameterValue) {
    super('ERR_PDU_MALFORMED', message, { detail: { abortReason } });
    this.abortReason = abortReason;
  }
}

/** Throws a PduError (invalid-PDU-parameter value) unless `ok`; `what` names the field. */
export function check(ok: boolean, what: string, reason: AbortReasonValue = AbortReason.InvalidPduParameterValue): asserts ok {
  if (!ok) throw new PduError(what, reason);
}
