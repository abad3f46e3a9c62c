// Hot reload of the main config file: re-validated, then only the fields that are safe to swap live take effect.

import type { Audit } from '../audit/audit.js';
import type { Logger } from '../audit/logger.js';
import { watchFile } from '../util/watch-file.js';
import { loadConfig } from './load.js';
import type { GatewayConfig } from './types.js';

/**
 * Fields applied without a restart: the role table (both guards read it per association or
 * request), the log level and the expiry warning horizon. Everything else — listen addresses,
 * TLS file paths, upstream, state store, session and lockout settings — needs a restart.
 */
export const RELOADABLE_FIELDS = Object.freeze(['roles', 'log.level', 'tls.expiryWarningDays']);

function flatten(o: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (typeof o === 'object' && o !== null && !Array.isArray(o) && prefix !== 'roles') {
    for (const [k, v] of Object.entries(o)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else {
    out.set(prefix, JSON.stringify(o));
  }
  return out;
}

/** The dotted fields that differ between two configs (roles compared as one field). */
export function changedFields(a: GatewayConfig, b: GatewayConfig): string[] {
  const fa = flatten(a);
  const fb = flatten(b);
  return [...new Set([...fa.keys(), ...fb.keys()])].filter((k) => fa.get(k) !== fb.get(k)).sort();
}

export interface ConfigReloaderOptions {
  readonly file: string;
  readonly initial: GatewayConfig;
  readonly audit: Audit;
  readonly logger: Logger;
  /** Called with the new config and the reloadable fields that changed. */
  readonly apply: (next: GatewayConfig, changed: readonly string[]) => void;
  readonly watch: boolean;
}

/** Watches the config file; an invalid new file is refused with an alert and the old config stays. */
export class ConfigReloader {
  #current: GatewayConfig;
  readonly #o: ConfigReloaderOptions;
  readonly #stop: (() => void) | undefined;

  constructor(o: ConfigReloaderOptions) {
    this.#o = o;
    this.#current = o.initial;
    this.#stop = o.watch ? watchFile(o.file, () => this.reload(), 200) : undefined;
  }

  get current(): GatewayConfig { return this.#current; }

  /** Returns the reloadable fields applied (empty when nothing changed or the file was refused). */
  reload(): string[] {
    let next: GatewayConfig;
    try {
      next = loadConfig(this.#o.file, { baseDir: this.#current.baseDir });
    } catch (err) {
      this.#o.audit.alert('reload.refused', { what: 'config', file: this.#o.file, reason: (err as Error).message, keeping: 'the configuration in force' });
      return [];
    }
    const changed = changedFields(this.#current, next);
    if (changed.length === 0) return [];
    const live = changed.filter((f) => RELOADABLE_FIELDS.includes(f));
    const restart = changed.filter((f) => !RELOADABLE_FIELDS.includes(f));
    if (restart.length > 0) {
      this.#o.logger.warn({ file: this.#o.file, fields: restart }, `config changed in fields that take effect only after a restart: ${restart.join(', ')}`);
    }
    if (live.length === 0) return [];
    // Keep the restart-only fields as they are in force, so `current` describes what runs.
    const applied: GatewayConfig = Object.freeze({
      ...this.#current, roles: next.roles,
      log: Object.freeze({ ...this.#current.log, level: next.log.level }),
      tls: Object.freeze({ ...this.#current.tls, expiryWarningDays: next.tls.expiryWarningDays }),
    });
    this.#current = applied;
    this.#o.apply(applied, live);
    this.#o.audit.record({ event: 'config.reload', decision: 'allow', reason: 'config-replaced', file: this.#o.file, fields: live, ...(restart.length > 0 ? { needsRestart: restart } : {}) });
    return live;
  }

  close(): void { this.#stop?.(); }
}
