// DICOM refusals and statuses in words, for evidence lines (PS3.8 Tables 9-21 and 9-26, PS3.7 Annex C).

import type { Abort } from '../dicom/abort.js';
import type { Rejection } from '../dicom/reject.js';

const RESULTS: Readonly<Record<number, string>> = Object.freeze({ 1: 'permanent', 2: 'transient' });
const SOURCES: Readonly<Record<number, string>> = Object.freeze({ 1: 'service-user', 2: 'service-provider (ACSE)', 3: 'service-provider (presentation)' });
const REASONS: Readonly<Record<number, Readonly<Record<number, string>>>> = Object.freeze({
  1: { 1: 'no reason given', 2: 'application context not supported', 3: 'calling AE title not recognized', 7: 'called AE title not recognized' },
  2: { 1: 'no reason given', 2: 'protocol version not supported' },
  3: { 1: 'temporary congestion', 2: 'local limit exceeded' },
});

/** e.g. `A-ASSOCIATE-RJ 1/1/7 (permanent, service-user, called AE title not recognized)`. */
export function describeRejection(r: Rejection): string {
  const reason = REASONS[r.source]?.[r.reason] ?? `reason ${r.reason}`;
  return `A-ASSOCIATE-RJ ${r.result}/${r.source}/${r.reason} (${RESULTS[r.result] ?? `result ${r.result}`}, ${SOURCES[r.source] ?? `source ${r.source}`}, ${reason})`;
}

const ABORT_REASONS: Readonly<Record<number, string>> = Object.freeze({
  0: 'reason not specified', 1: 'unrecognized PDU', 2: 'unexpected PDU', 4: 'unrecognized PDU parameter',
  5: 'unexpected PDU parameter', 6: 'invalid PDU parameter value',
});

export function describeAbort(a: Abort): string {
  return a.source === 0 ? 'A-ABORT (service-user)' : `A-ABORT (service-provider, ${ABORT_REASONS[a.reason] ?? `reason ${a.reason}`})`;
}

const STATUS_NAMES: Readonly<Record<number, string>> = Object.freeze({
  0x0000: 'success', 0x0124: 'refused: not authorized', 0x0122: 'SOP class not supported', 0xfe00: 'cancelled',
  0xa700: 'out of resources', 0xa900: 'identifier does not match SOP class',
});

/** A DIMSE status as 0xNNNN with its PS3.7 meaning where it is a common one. */
export function describeStatus(status: number): string {
  const hex = `0x${status.toString(16).padStart(4, '0')}`;
  const n = STATUS_NAMES[status] ?? (status >= 0xc000 && status <= 0xcfff ? 'unable to process' : undefined);
  return n === undefined ? hex : `${hex} ${n}`;
}
