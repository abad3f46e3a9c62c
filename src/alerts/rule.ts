// What an anomaly rule is: it watches audit events and outcomes, counts in sliding windows, and says when to fire.

import type { AuditEvent } from '../audit/audit.js';
import type { Outcome } from '../audit/outcome.js';
import type { RuleName, RuleSettings } from '../config/types.js';
import type { StateStore } from '../state/store.js';

/** What an alert says: the rule, its subject and the evidence (README "Monitoring and alerts"). */
export interface Evidence {
  readonly rule: RuleName;
  /** A principal, an address, or a principal and network (new-source). */
  readonly subject: string;
  readonly principal?: string;
  readonly source?: string;
  /** What was counted: patients, instances, bytes, refusals, usernames, handshakes, accesses, networks. */
  readonly measure: string;
  readonly count: number;
  readonly threshold: number;
  readonly windowMinutes: number;
  /** ISO times of the first and last event the window held when the rule fired. */
  readonly firstEvent: string;
  readonly lastEvent: string;
  readonly message: string;
  readonly [more: string]: unknown;
}

/** What rules get from the engine. */
export interface RuleContext {
  readonly store: StateStore;
  /** Raises the alert unless this rule already fired for this subject within the current window (all replicas). */
  fire(e: Evidence, at: number, windowMs: number): Promise<void>;
  /** Whether this replica already raised (or saw claimed) this rule's alert for `subject` in the window period of `at`. */
  firedHere(rule: RuleName, subject: string, at: number, windowMs: number): boolean;
  /** An event a rule could not keep (its pending set was full): counted for the metrics. */
  dropped(rule: RuleName): void;
}

export interface Rule {
  readonly name: RuleName;
  event?(e: AuditEvent, at: number): void;
  outcome?(o: Outcome, at: number): void;
  /** Sends what was counted since the last flush to the state store and fires what crossed its threshold. */
  flush(): Promise<void>;
}

export type RuleFactory = (settings: RuleSettings, ctx: RuleContext) => Rule;
