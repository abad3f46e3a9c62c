// Alerts for refusals that come in floods (connection caps, busy password checks): the first at once,
// then at most one per interval per alert and scope, carrying how many were held back since.

import type { AlertName, Audit } from './audit.js';

const DEFAULT_INTERVAL_MS = 10_000;

export class AlertThrottle {
  readonly #audit: Audit;
  readonly #intervalMs: number;
  readonly #clock: () => number;
  /** Per alert name and scope: when the last one went out and how many were held back since. */
  readonly #last = new Map<string, { at: number; held: number }>();

  constructor(audit: Audit, options: { intervalMs?: number; clock?: () => number } = {}) {
    this.#audit = audit;
    this.#intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#clock = options.clock ?? Date.now;
  }

  /** Raises `name` unless one for the same `scope` (a listener, a cap) went out less than an interval ago. */
  alert(name: AlertName, scope: string, detail: Record<string, unknown>): void {
    const key = `${name} ${scope}`;
    const now = this.#clock();
    const last = this.#last.get(key);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.held++;
      return;
    }
    this.#audit.alert(name, last === undefined || last.held === 0 ? detail : { ...detail, heldBack: last.held });
    this.#last.set(key, { at: now, held: 0 });
  }
}
