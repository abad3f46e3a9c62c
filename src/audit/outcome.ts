// Outcome reports: what happened after a decision (what the PACS answered, a TLS handshake), for listeners only.
//
// The JSON trail keeps one line per decision; these reports are handed to the audit listeners
// (alert rules, metrics, the ATNA export) and never written to the log. Principals, sources and
// patient IDs they carry stay in process (rules hash patient IDs before they reach the state store).

import type { AuthMethod, Principal } from '../identity/principal.js';

/** Who an allowed request came from. */
export interface OutcomeParty {
  readonly principal: string;
  readonly role: string;
  readonly method: AuthMethod;
  readonly principalKind: Principal['kind'];
  readonly source: string;
}

/** A DIMSE request's final response from the PACS (PS3.7 §9.1: the first non-pending status). */
export interface DimseOutcome extends OutcomeParty {
  readonly kind: 'dicom';
  readonly associationId: string;
  readonly callingAe: string | undefined;
  readonly calledAe: string | undefined;
  /** The request: C-FIND, C-GET, C-MOVE, C-STORE, C-ECHO, N-…. */
  readonly command: string;
  readonly messageId: number;
  readonly status: number;
  readonly sopClassUid: string | undefined;
  /** Seconds from the request being forwarded to the final response (undefined when not known). */
  readonly seconds: number | undefined;
  /** C-FIND: pending responses (one per match). */
  readonly results?: number;
  /** C-FIND: PatientID (0010,0020) of the matches that carried one, distinct, at most MAX_OUTCOME_PATIENTS. */
  readonly patientIds?: readonly string[];
  /** C-FIND: matches without a readable Patient ID. */
  readonly unidentified?: number;
  /** C-FIND: the request identifier (the query), as sent, at most 64 KB. */
  readonly query?: Buffer;
  /** C-GET: the first 64 KB of the first instance sent back (names the patient and study when the identifier did not). */
  readonly firstInstance?: Buffer;
  /** C-GET / C-MOVE: Number of Completed / Failed / Warning Sub-operations (0000,1021/1022/1023). */
  readonly completed?: number;
  readonly failed?: number;
  readonly warning?: number;
}

/** An allowed DICOMweb / WADO-URI request once the exchange ended. */
export interface HttpOutcome extends OutcomeParty {
  readonly kind: 'http';
  readonly service: 'qido-rs' | 'wado-rs' | 'stow-rs' | 'delete' | 'wado-uri';
  readonly action: string;
  readonly httpMethod: string;
  readonly path: string;
  readonly studyUid: string | undefined;
  readonly seriesUid: string | undefined;
  readonly instanceUid: string | undefined;
  /** The PACS's status; 502 / 504 when it could not be reached or did not answer. */
  readonly status: number;
  /** Response body bytes that went to the client. */
  readonly bytes: number;
  /** Seconds from the request head going to the PACS to its response head (undefined without a response). */
  readonly seconds: number | undefined;
  /** The response went to the client in full. */
  readonly complete: boolean;
  /** QIDO-RS: result objects counted in the response (undefined: not counted). */
  readonly results?: number | undefined;
  /** QIDO-RS: PatientID values of the results, distinct, at most MAX_OUTCOME_PATIENTS. */
  readonly patientIds?: readonly string[] | undefined;
  /** QIDO-RS: results without a Patient ID. */
  readonly unidentified?: number | undefined;
}

/** A TLS handshake on one of the listeners, completed or failed. */
export interface TlsOutcome {
  readonly kind: 'tls';
  readonly channel: 'https' | 'dicom';
  readonly source: string;
  readonly ok: boolean;
  /** A completed handshake resumed an earlier session (a session ticket): no certificate exchange, no signature. */
  readonly resumed?: boolean;
  /** Why it failed, from a fixed set (see tlsFailureReason). */
  readonly reason?: TlsFailureReason;
}

/** A connection accepted on the cleartext legacy DICOM port (listen.dicomLegacy), before its address is checked: what a TLS handshake is to the TLS ports. */
export interface ConnectionOutcome {
  readonly kind: 'connection';
  readonly channel: 'dicom-legacy';
  readonly source: string;
}

export type Outcome = DimseOutcome | HttpOutcome | TlsOutcome | ConnectionOutcome;

/** Most patient IDs one response reports (a larger answer reports this many: rules count at least that). */
export const MAX_OUTCOME_PATIENTS = 5000;

export type TlsFailureReason = 'timeout' | 'reset' | 'protocol-version' | 'cipher' | 'certificate' | 'not-tls' | 'other';

/** Maps a tlsClientError to a reason from a fixed set (metric label; bounded cardinality). */
export function tlsFailureReason(err: Error & { code?: string; reason?: string }): TlsFailureReason {
  const code = err.code ?? '';
  const text = `${code} ${err.reason ?? ''} ${err.message}`.toLowerCase();
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || text.includes('timeout')) return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE' || text.includes('socket hang up')) return 'reset';
  if (text.includes('wrong version number') || text.includes('http request') || text.includes('packet length')) return 'not-tls';
  if (text.includes('version')) return 'protocol-version';
  if (text.includes('cipher') || text.includes('no shared')) return 'cipher';
  if (text.includes('cert')) return 'certificate';
  return 'other';
}
