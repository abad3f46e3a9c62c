// Counts for one rule and measure, gathered in process and added to the state store's sliding windows in batches.
//
// The hot path only updates a Map entry per subject; flush() (about once a second) makes one store
// call per subject that changed, so replicas sharing a Redis count together and the store sees
// at most one round trip per subject and second, however busy the gateway is.

import { createHash, randomBytes } from 'node:crypto';
import type { RuleName } from '../config/types.js';
import type { RuleContext } from './rule.js';

/** Subjects with pending counts per flush; more are dropped (and counted) until the next flush. */
const MAX_PENDING_SUBJECTS = 10_000;
/** Distinct members kept per subject and window (the state store forgets the least recently seen beyond it). */
export const MAX_DISTINCT = 100_000;
/** Members pending per subject between flushes. */
const MAX_PENDING_MEMBERS = 20_000;

const replica = randomBytes(6).toString('hex');
let unnamed = 0;

/** A member that counts once and matches no other (a result without a Patient ID). */
export function uniqueMember(): string {
  unnamed = (unnamed + 1) % Number.MAX_SAFE_INTEGER;
  return `~${replica}:${unnamed}`;
}

/** Members are hashed before they reach the store: patient IDs and usernames never leave the process. */
function hashed(member: string): string {
  return member.startsWith('~') ? member : createHash('sha256').update(member).digest('base64url').slice(0, 16);
}

interface Pending {
  amount: number;
  members: Set<string> | undefined;
  at: number;
  principal: string | undefined;
  source: string | undefined;
}

export interface WindowSpec {
  readonly rule: RuleName;
  readonly measure: string;
  readonly threshold: number;
  readonly windowMinutes: number;
  /** Count distinct members (addMembers) rather than sum amounts (add). */
  readonly distinct: boolean;
  /** The alert's message from subject and count. */
  readonly describe: (subject: string, count: number) => string;
}

export class SlidingWindow {
  readonly #spec: WindowSpec;
  readonly #ctx: RuleContext;
  readonly #windowMs: number;
  #pending = new Map<string, Pending>();

  constructor(spec: WindowSpec, ctx: RuleContext) {
    this.#spec = spec;
    this.#ctx = ctx;
    this.#windowMs = spec.windowMinutes * 60_000;
  }

  #entry(subject: string, at: number, principal: string | undefined, source: string | undefined): Pending | undefined {
    let p = this.#pending.get(subject);
    if (p === undefined) {
      if (this.#pending.size >= MAX_PENDING_SUBJECTS) { this.#ctx.dropped(this.#spec.rule); return undefined; }
      p = { amount: 0, members: undefined, at, principal, source };
      this.#pending.set(subject, p);
    }
    if (at > p.at) p.at = at;
    return p;
  }

  /** Adds `amount` for `subject` at `at`. */
  add(subject: string, at: number, amount: number, who: { principal?: string | undefined; source?: string | undefined } = {}): void {
    const p = this.#entry(subject, at, who.principal, who.source);
    if (p !== undefined) p.amount += amount;
  }

  /** Adds distinct members for `subject` at `at`. */
  addMembers(subject: string, at: number, members: Iterable<string>, who: { principal?: string | undefined; source?: string | undefined } = {}): void {
    const p = this.#entry(subject, at, who.principal, who.source);
    if (p === undefined) return;
    const set = p.members ??= new Set();
    for (const m of members) {
      if (set.size >= MAX_PENDING_MEMBERS) { this.#ctx.dropped(this.#spec.rule); return; }
      set.add(m);
    }
  }

  async flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const s = this.#spec;
    const key = (subject: string): string => `alert:w:${s.rule}:${s.measure}:${subject}`;
    await Promise.all([...batch].map(async ([subject, p]) => {
      const w = s.distinct
        ? await this.#ctx.store.windowAddDistinct(key(subject), p.at, [...(p.members ?? [])].map(hashed), this.#windowMs, MAX_DISTINCT)
        : await this.#ctx.store.windowAdd(key(subject), p.at, p.amount, this.#windowMs);
      if (w.total <= s.threshold) return;
      await this.#ctx.fire({
        rule: s.rule, subject, measure: s.measure, count: w.total, threshold: s.threshold, windowMinutes: s.windowMinutes,
        firstEvent: new Date(w.first).toISOString(), lastEvent: new Date(w.last).toISOString(),
        ...(p.principal === undefined ? {} : { principal: p.principal }),
        ...(p.source === undefined ? {} : { source: p.source }),
        message: s.describe(subject, w.total),
      }, p.at, this.#windowMs);
    }));
  }
}
