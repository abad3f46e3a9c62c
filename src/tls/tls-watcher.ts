// Hot reload of TLS material: on file change or SIGHUP, load and check the new files, then swap them in.

import type { Audit } from '../audit/audit.js';
import { watchFile } from '../util/watch-file.js';
import { loadTlsMaterial, type TlsMaterial, type TlsPaths } from './material.js';

/**
 * Holds the TLS material in force. `reload()` replaces it only when the new files pass every
 * check; otherwise the old material stays and an alert says what is wrong.
 */
export class TlsReloader {
  #current: TlsMaterial;
  readonly #paths: TlsPaths;
  readonly #audit: Audit;
  readonly #apply: (m: TlsMaterial) => void;
  readonly #stops: (() => void)[] = [];

  constructor(paths: TlsPaths, initial: TlsMaterial, audit: Audit, apply: (m: TlsMaterial) => void, watch: boolean) {
    this.#paths = paths;
    this.#current = initial;
    this.#audit = audit;
    this.#apply = apply;
    if (watch) {
      for (const f of [paths.cert, paths.key, paths.clientCa, paths.crl]) {
        if (f !== undefined) this.#stops.push(watchFile(f, () => this.reload(), 200));
      }
    }
  }

  get current(): TlsMaterial { return this.#current; }

  /** Returns true when new material was applied. */
  reload(): boolean {
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.#paths);
    } catch (err) {
      this.#audit.alert('reload.refused', { what: 'tls', reason: (err as Error).message, keeping: `serial ${this.#current.serverCert.serialNumber}` });
      return false;
    }
    if (next.cert.equals(this.#current.cert) && next.key.equals(this.#current.key) && next.ca.equals(this.#current.ca)
      && (next.crl?.equals(this.#current.crl ?? Buffer.alloc(0)) ?? this.#current.crl === undefined)) return false;
    this.#current = next;
    this.#apply(next);
    this.#audit.record({ event: 'config.reload', decision: 'allow', reason: 'tls-material-replaced', serial: next.serverCert.serialNumber, validTo: next.serverCert.validTo });
    return true;
  }

  close(): void {
    for (const s of this.#stops) s();
  }
}
