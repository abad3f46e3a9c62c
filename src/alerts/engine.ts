// The anomaly-rule engine: feeds audit events and outcomes to the enabled rules, flushes their counts, raises their alerts.

import type { Logger } from 'pino';
import type { Audit } from '../audit/audit.js';
import type { GatewayConfig, RuleName } from '../config/types.js';
import type { StateStore } from '../state/store.js';
import type { Clock } from '../util/clock.js';
import type { Evidence, Rule, RuleContext, RuleFactory } from './rule.js';
import { associationFlood } from './rules/association-flood.js';
import { bulkRetrieve } from './rules/bulk-retrieve.js';
import { newSource } from './rules/new-source.js';
import { offHours } from './rules/off-hours.js';
import { passwordSpray } from './rules/password-spray.js';
import { querySweep } from './rules/query-sweep.js';
import { refusalBurst } from './rules/refusal-burst.js';

export interface AlertEngineOptions {
  readonly audit: Audit;
  readonly store: StateStore;
  readonly alerts: GatewayConfig['alerts'];
  readonly logger: Logger;
  readonly clock: Clock;
  /** How often counts go to the state store (default 1000 ms). */
  readonly flushMs?: number;
}

/** Claims remembered per replica (an alert fired or seen claimed), so later events need no store call. */
const MAX_LOCAL_CLAIMS = 10_000;

export class AlertEngine {
  readonly rules: readonly Rule[];
  readonly #o: AlertEngineOptions;
  readonly #log: Logger;
  readonly #claimed = new Map<string, true>();
  readonly #dropped = new Map<RuleName, number>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #dirty = false;
  #storeFailing = false;

  constructor(o: AlertEngineOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: 'alerts' });
    const factories: Record<RuleName, RuleFactory> = {
      'query-sweep': querySweep,
      'bulk-retrieve': bulkRetrieve,
      'off-hours': offHours(o.alerts.schedule),
      'new-source': newSource,
      'refusal-burst': refusalBurst,
      'password-spray': passwordSpray,
      'association-flood': associationFlood,
    };
    const ctx: RuleContext = {
      store: o.store,
      fire: (e, at, windowMs) => this.#fire(e, at, windowMs),
      firedHere: (rule, subject, at, windowMs) => this.#claimed.has(claimKey(rule, subject, at, windowMs)),
      dropped: (rule) => { this.#dropped.set(rule, (this.#dropped.get(rule) ?? 0) + 1); },
    };
    this.rules = (Object.keys(factories) as RuleName[])
      .filter((name) => o.alerts.rules[name].enabled)
      .map((name) => factories[name](o.alerts.rules[name], ctx));
  }

  /** Events a rule could not keep, per rule (metrics). */
  get dropped(): ReadonlyMap<RuleName, number> { return this.#dropped; }

  start(): void {
    if (this.#unsubscribe !== undefined || this.rules.length === 0) return;
    const withEvent = this.rules.filter((r) => r.event !== undefined);
    const withOutcome = this.rules.filter((r) => r.outcome !== undefined);
    this.#unsubscribe = this.#o.audit.subscribe({
      wantsResults: this.rules.some((r) => r.name === 'query-sweep'),
      event: (e, at) => {
        for (const r of withEvent) r.event?.(e, at);
        this.#schedule();
      },
      outcome: (o, at) => {
        for (const r of withOutcome) r.outcome?.(o, at);
        this.#schedule();
      },
    });
  }

  /** Stops listening and flushes what was counted. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** Sends pending counts to the store and raises what crossed a threshold (also run by the timer). */
  async flush(): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing;
    this.#dirty = false;
    let failed = false;
    this.#flushing = Promise.all(this.rules.map((r) => r.flush().catch((err: unknown) => {
      failed = true;
      // Once per outage, not once a second (the store's own store.unavailable alert says why).
      if (!this.#storeFailing) this.#log.warn({ rule: r.name, err: { message: (err as Error).message } }, 'alert rules cannot update their counts (state store unavailable?); events are not counted until it returns');
    }))).then(() => {
      if (this.#storeFailing && !failed) this.#log.info('alert rules count again');
      this.#storeFailing = failed;
    });
    try {
      await this.#flushing;
    } finally {
      this.#flushing = undefined;
    }
  }

  #schedule(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#o.flushMs ?? 1000);
    this.#timer.unref();
  }

  async #fire(e: Evidence, at: number, windowMs: number): Promise<void> {
    const key = claimKey(e.rule, e.subject, at, windowMs);
    if (this.#claimed.has(key)) return;
    // One alert per rule, subject and window period across replicas: the first to claim it raises it.
    const claims = await this.#o.store.increment(`alert:fired:${key}`, windowMs * 2);
    if (this.#claimed.size >= MAX_LOCAL_CLAIMS) this.#claimed.clear();
    this.#claimed.set(key, true);
    if (claims !== 1) return;
    this.#o.audit.alert('anomaly', { ...e });
  }
}

function claimKey(rule: RuleName, subject: string, at: number, windowMs: number): string {
  return `${rule}:${subject}:${Math.floor(at / windowMs)}`;
}
