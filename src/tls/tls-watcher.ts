// Hot reload of TLS material: on file change or SIGHUP, load and check the new files, then swap them in.

import type { Audit } from '../audit/audit.js';
import { watchFile } from '../util/watch-file.js';
import { loadTlsMaterial, type TlsMaterial, type TlsPaths } from './material.js';

/** Files written together (certificate, then key) settle within this; one reload follows. */
const SETTLE_MS = 300;

function same(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}

/**
 * Holds the TLS material in force. `reload()` replaces it only when the new files pass every
 * check; otherwise the old material stays and an alert says what is wrong. The CRL file is
 * watched even while it does not exist (the default CRL path), so a first revocation applies.
 */
export class TlsReloader {
  #current: TlsMaterial;
  readonly #paths: TlsPaths;
  readonly #audit: Audit;
  readonly #apply: (m: TlsMaterial) => void;
  readonly #stops: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(paths: TlsPaths, initial: TlsMaterial, audit: Audit, apply: (m: TlsMaterial) => void, watch: boolean) {
    this.#paths = paths;
    this.#current = initial;
    this.#audit = audit;
    this.#apply = apply;
    if (watch) {
      // One debounce for all files: a tool that writes the certificate and then the key causes one reload.
      const schedule = (): void => {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.reload(), SETTLE_MS);
        this.#timer.unref();
      };
      for (const f of new Set([paths.cert, paths.key, paths.clientCa, paths.crl, paths.ecdsaCert, paths.ecdsaKey])) {
        if (f !== undefined) this.#stops.push(watchFile(f, schedule, 0));
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
    const c = this.#current;
    const changed = [
      ...(same(next.cert, c.cert) && same(next.key, c.key) ? [] : ['server-certificate']),
      ...(same(next.ca, c.ca) ? [] : ['client-ca']),
      ...(same(next.crl, c.crl) ? [] : ['crl']),
      ...(same(next.ecdsa?.cert, c.ecdsa?.cert) && same(next.ecdsa?.key, c.ecdsa?.key) ? [] : ['ecdsa-server-certificate']),
    ];
    if (changed.length === 0) return false;
    this.#current = next;
    this.#apply(next);
    this.#audit.record({
      event: 'config.reload', decision: 'allow', reason: 'tls-material-replaced', changed,
      serial: next.serverCert.serialNumber, validTo: next.serverCert.validTo,
      ...(next.ecdsa === undefined ? {} : { ecdsaSerial: next.ecdsa.serverCert.serialNumber, ecdsaValidTo: next.ecdsa.serverCert.validTo }),
      ...(next.crls === undefined ? {} : { crlNumbers: next.crls.map((x) => x.number), revokedCount: next.crls.reduce((n, x) => n + x.entries.length, 0) }),
    });
    return true;
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const s of this.#stops) s();
  }
}
