// Audit trail: one structured event per security decision, and alerts for suspicious patterns.
//
// Besides the JSON log, the trail feeds in-process listeners (alert rules, metrics, the ATNA
// export): they get every event, every alert, and the outcome reports (what the PACS answered) that
// are not written to the log. With no listener each call costs one array-length check.

import type { Logger } from 'pino';
import type { AuthMethod } from '../identity/principal.js';
import { REDACT_PATHS } from './logger.js';
import type { Outcome } from './outcome.js';

export type AuditEventName =
  | 'auth.login' | 'auth.logout' | 'auth.session' | 'auth.token'
  /** Enrolment by invite link (src/http/enrol-routes.ts) and self-service on /account. */
  | 'auth.enrol' | 'auth.account'
  | 'authz.http' | 'dicom.association' | 'dicom.command'
  | 'config.reload' | 'cert.revoked'
  /** A certificate made by the CLI (`certs init`, `issue-server`, `issue-client`, `renew`). */
  | 'cert.issued'
  | 'relay.association' | 'relay.command' | 'relay.transfer';

export interface AuditEvent {
  readonly event: AuditEventName;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly principal?: string;
  readonly role?: string;
  readonly method?: AuthMethod | 'password+totp' | 'oidc';
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
  | 'dev-certificates' | 'connections.refused' | 'login.busy'
  /** Legacy DICOM port: a connection from an address no legacy device has (closed unread). */
  | 'dicom.legacy-address-refused'
  /** Legacy DICOM port: a password or token arrived in cleartext (refused; the credential should be changed). */
  | 'dicom.cleartext-credential'
  /** An anomaly rule fired (src/alerts/); `rule` names it. */
  | 'anomaly'
  /** An alert or audit sink is losing messages (webhook or ATNA export queue full, receiver gone). */
  | 'sink.dropping';

/** What listeners are told. Each is optional; a listener that throws is logged and skipped. */
export interface AuditListener {
  event?(e: AuditEvent, at: number): void;
  alert?(name: AlertName, detail: Readonly<Record<string, unknown>>, at: number): void;
  outcome?(o: Outcome, at: number): void;
  /** The listener reads QIDO-RS results and C-FIND matches (Patient IDs): only then are answers scanned for them. */
  readonly wantsResults?: boolean;
}

/** Top-level event fields the logger's redaction would censor (REDACT_PATHS "*.x"). */
const REDACTED_FIELDS = new Set(REDACT_PATHS.filter((p) => p.startsWith('*.')).map((p) => p.slice(2)));

/** Writes audit events and alerts through the gateway's logger (JSON on stdout) and hands them to listeners. */
export class Audit {
  readonly #log: Logger;
  /** The same channel without the redaction pass, for events that carry no field it would censor. */
  readonly #plain: Logger;
  readonly #clock: () => number;
  #listeners: readonly AuditListener[] = [];
  #outcomeListeners = false;
  #resultListeners = false;

  constructor(logger: Logger, clock: () => number = Date.now) {
    this.#log = logger.child({ channel: 'audit' });
    // Redaction clones and walks every logged object: ~40 % of an audit line's cost, paid on
    // each DICOMweb request (docs/benchmarks.md). It only ever censors the fields listed above.
    this.#plain = logger.child({ channel: 'audit' }, { redact: { paths: [] } });
    this.#clock = clock;
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: AuditListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    this.#counted();
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
      this.#counted();
    };
  }

  #counted(): void {
    this.#outcomeListeners = this.#listeners.some((l) => l.outcome !== undefined);
    this.#resultListeners = this.#listeners.some((l) => l.wantsResults === true);
  }

  /** One event per authentication attempt or authorization decision. Time is the logger's (UTC ISO). */
  record(e: AuditEvent): void {
    let plain = true;
    for (const k in e) if (REDACTED_FIELDS.has(k)) { plain = false; break; }
    (plain ? this.#plain : this.#log).info({ audit: e }, e.event);
    const ls = this.#listeners;
    if (ls.length === 0) return;
    const at = this.#clock();
    for (const l of ls) {
      if (l.event === undefined) continue;
      try { l.event(e, at); } catch (err) { this.#listenerFailed(err); }
    }
  }

  /** An alert: something an operator should look at. */
  alert(name: AlertName, detail: Record<string, unknown>): void {
    this.#log.warn({ alert: { name, ...detail } }, `ALERT ${name}`);
    const ls = this.#listeners;
    if (ls.length === 0) return;
    const at = this.#clock();
    for (const l of ls) {
      if (l.alert === undefined) continue;
      try { l.alert(name, detail, at); } catch (err) { this.#listenerFailed(err); }
    }
  }

  /**
   * What the PACS answered to an allowed request (src/audit/outcome.ts). Not written to the log:
   * the trail keeps one line per decision; listeners (rules, metrics, ATNA) get it.
   */
  outcome(o: Outcome): void {
    const ls = this.#listeners;
    if (ls.length === 0) return;
    const at = this.#clock();
    for (const l of ls) {
      if (l.outcome === undefined) continue;
      try { l.outcome(o, at); } catch (err) { this.#listenerFailed(err); }
    }
  }

  /** Whether a listener reads QIDO-RS results and C-FIND matches (the answers are scanned only then). */
  get wantsResults(): boolean {
    return this.#resultListeners;
  }

  /** Whether anyone listens to outcomes (callers skip building an outcome nobody reads). */
  get listening(): boolean {
    return this.#outcomeListeners;
  }

  #listenerFailed(err: unknown): void {
    this.#log.error({ err: { message: (err as Error).message } }, 'audit listener failed');
  }
}
