// Audit trail: one structured event per security decision, and alerts for suspicious patterns.

import type { Logger } from 'pino';
import type { AuthMethod } from '../identity/principal.js';
import { REDACT_PATHS } from './logger.js';

export type AuditEventName =
  | 'auth.login' | 'auth.logout' | 'auth.session' | 'auth.token'
  | 'authz.http' | 'dicom.association' | 'dicom.command'
  | 'config.reload' | 'cert.revoked';

export interface AuditEvent {
  readonly event: AuditEventName;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly principal?: string;
  readonly role?: string;
  readonly method?: AuthMethod | 'password+totp';
  readonly source?: string;
  readonly action?: string;
  readonly [extra: string]: unknown;
}

/** Which HTTP exchange or DICOM association an event belongs to; events of a layer that serves both (login) take it from the caller. */
export interface AuditContext {
  readonly requestId?: string;
  readonly associationId?: string;
  /** The association's calling AE title. */
  readonly callingAe?: string;
}

export type AlertName =
  | 'lockout.user' | 'lockout.address' | 'store.unavailable' | 'store.recovered'
  | 'reload.refused' | 'cert.revoked-presented' | 'cert.expired-presented' | 'cert.expiring' | 'dicom.protocol-violation'
  | 'dev-certificates' | 'connections.refused' | 'login.busy';

/** Writes audit events and alerts through the gateway's logger (JSON on stdout). */
/** Top-level event fields the logger's redaction would censor (REDACT_PATHS "*.x"). */
const REDACTED_FIELDS = new Set(REDACT_PATHS.filter((p) => p.startsWith('*.')).map((p) => p.slice(2)));

export class Audit {
  readonly #log: Logger;
  /** The same channel without the redaction pass, for events that carry no field it would censor. */
  readonly #plain: Logger;

  constructor(logger: Logger) {
    this.#log = logger.child({ channel: 'audit' });
    // Redaction clones and walks every logged object: ~40 % of an audit line's cost, paid on
    // each DICOMweb request (docs/benchmarks.md). It only ever censors the fields listed above.
    this.#plain = logger.child({ channel: 'audit' }, { redact: { paths: [] } });
  }

  /** One event per authentication attempt or authorization decision. Time is the logger's (UTC ISO). */
  record(e: AuditEvent): void {
    let plain = true;
    for (const k in e) if (REDACTED_FIELDS.has(k)) { plain = false; break; }
    (plain ? this.#plain : this.#log).info({ audit: e }, e.event);
  }

  /** An alert: something an operator should look at. */
  alert(name: AlertName, detail: Record<string, unknown>): void {
    this.#log.warn({ alert: { name, ...detail } }, `ALERT ${name}`);
  }
}
