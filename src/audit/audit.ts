// Audit trail: one structured event per security decision, and alerts for suspicious patterns.

import type { Logger } from 'pino';
import type { AuthMethod } from '../identity/principal.js';

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

export type AlertName =
  | 'lockout.user' | 'lockout.address' | 'store.unavailable' | 'store.recovered'
  | 'reload.refused' | 'cert.revoked-presented' | 'cert.expired-presented' | 'cert.expiring' | 'dicom.protocol-violation'
  | 'dev-certificates';

/** Writes audit events and alerts through the gateway's logger (JSON on stdout). */
export class Audit {
  readonly #log: Logger;

  constructor(logger: Logger) {
    this.#log = logger.child({ channel: 'audit' });
  }

  /** One event per authentication attempt or authorization decision. Time is the logger's (UTC ISO). */
  record(e: AuditEvent): void {
    this.#log.info({ audit: e }, e.event);
  }

  /** An alert: something an operator should look at. */
  alert(name: AlertName, detail: Record<string, unknown>): void {
    this.#log.warn({ alert: { name, ...detail } }, `ALERT ${name}`);
  }
}
