// Expiry warnings: the server certificate, the CAs, the CRLs and every device certificate, at start and daily.

import type { Audit } from '../audit/audit.js';
import type { DeviceRecord } from '../identity/device-registry.js';
import type { TlsMaterial } from './material.js';

const DAY_MS = 86_400_000;

export interface ExpiryItem {
  readonly what: 'server certificate' | 'CA certificate' | 'CRL' | 'device certificate';
  readonly name: string;
  readonly notAfter: Date;
  /** What the admin runs to fix it. */
  readonly fix: string;
}

export interface ExpiryWarning extends ExpiryItem { readonly daysLeft: number }

/** Everything that expires: from the TLS material in force and the enabled devices. */
export function expiryItems(m: TlsMaterial, devices: readonly DeviceRecord[]): ExpiryItem[] {
  const subject = (s: string): string => s.replace(/\n/g, ', ');
  return [
    { what: 'server certificate', name: subject(m.serverCert.subject), notAfter: new Date(m.serverCert.validTo), fix: 'pacs-gateway certs issue-server --dns … --ip …' },
    ...(m.ecdsa === undefined ? [] : [{ what: 'server certificate' as const, name: `${subject(m.ecdsa.serverCert.subject)} (ECDSA)`, notAfter: new Date(m.ecdsa.serverCert.validTo), fix: 'pacs-gateway certs issue-server --key-type both --dns … --ip …' }]),
    ...m.caCerts.map((c) => ({ what: 'CA certificate' as const, name: subject(c.subject), notAfter: new Date(c.validTo), fix: 'a new CA (certs init --force) and new certificates for the server and every device' })),
    ...(m.crls ?? []).flatMap((c, i) => c.nextUpdate === undefined ? [] : [{ what: 'CRL' as const, name: `CRL #${i + 1} (number ${c.number ?? '?'})`, notAfter: c.nextUpdate, fix: 're-sign the CRL (any certs revoke re-signs it)' }]),
    ...devices.filter((d) => !d.disabled && d.notAfter !== undefined).map((d) => ({ what: 'device certificate' as const, name: d.name, notAfter: new Date(d.notAfter as string), fix: `pacs-gateway certs renew ${d.name}` })),
  ];
}

/** The items that expire within `warningDays` (or already have), soonest first. */
export function expiringWithin(items: readonly ExpiryItem[], warningDays: number, now: number): ExpiryWarning[] {
  return items
    .filter((i) => i.notAfter.getTime() - now < warningDays * DAY_MS)
    .map((i) => ({ ...i, daysLeft: Math.floor((i.notAfter.getTime() - now) / DAY_MS) }))
    .sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime());
}

/** Logs one 'cert.expiring' alert per item; returns how many. */
export function warnExpiring(audit: Audit, warnings: readonly ExpiryWarning[]): number {
  for (const w of warnings) {
    audit.alert('cert.expiring', {
      what: w.what, subject: w.name, notAfter: w.notAfter.toISOString(), daysLeft: w.daysLeft,
      message: `${w.what} ${w.name} ${w.daysLeft < 0 ? 'expired' : 'expires'} ${w.notAfter.toISOString()}; fix: ${w.fix}`,
    });
  }
  return warnings.length;
}

/** Runs `check` now and then every `intervalMs` (default daily) until the returned stop is called. */
export function scheduleDaily(check: () => void, intervalMs = DAY_MS): () => void {
  check();
  const t = setInterval(check, intervalMs);
  t.unref();
  return () => clearInterval(t);
}
