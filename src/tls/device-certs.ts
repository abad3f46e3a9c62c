// Device certificates: issue, renew, revoke and list, keeping the files, the CRL and the devices registry in step.

import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import type { DeviceRecord, DeviceRegistry } from '../identity/device-registry.js';
import { atomicWrite } from '../util/atomic-write.js';
import type { LoadedCa } from './ca-store.js';
import type { RevocationReasonName } from './crl-build.js';
import { issueCertificate, type IssuedCertificate } from './issue.js';
import { buildPkcs12, generateBundlePassword, type Pkcs12Profile } from './pkcs12.js';
import { revokeSerials, revokedSerials } from './revocation.js';
import type { TlsFilePaths } from './tls-paths.js';
import { normaliseSerial } from './x509-fields.js';

const DAY_MS = 86_400_000;
const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;

export interface DeviceFiles { readonly cert: string; readonly key: string; readonly p12: string }

export interface IssuedDevice {
  readonly device: DeviceRecord;
  readonly certificate: IssuedCertificate;
  readonly files: DeviceFiles;
  /** The PKCS#12 password; `generated` when the gateway chose it (print it once). */
  readonly password: string;
  readonly generated: boolean;
  readonly profile: Pkcs12Profile;
}

export interface BundleOptions {
  readonly days?: number | undefined;
  /** PKCS#12 password; generated when absent. */
  readonly password?: string | undefined;
  readonly profile?: Pkcs12Profile | undefined;
}

export type DeviceStatus = 'valid' | 'expiring' | 'expired' | 'revoked' | 'disabled';

export interface DeviceListing {
  readonly name: string;
  readonly role: string;
  readonly aeTitles: readonly string[];
  readonly serial: string | undefined;
  readonly notAfter: string | undefined;
  readonly fingerprint: string | undefined;
  readonly status: DeviceStatus;
}

/** Where a device's files go: certs/devices/NAME.{crt,key,p12}. */
export function deviceFiles(paths: Pick<TlsFilePaths, 'devicesDir'>, name: string): DeviceFiles {
  return { cert: join(paths.devicesDir, `${name}.crt`), key: join(paths.devicesDir, `${name}.key`), p12: join(paths.devicesDir, `${name}.p12`) };
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new GatewayError('ERR_USAGE', `device name "${name}": use 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
}

function checkAeTitles(aeTitles: readonly string[]): string[] {
  return aeTitles.map((ae) => {
    const t = ae.trim();
    if (!AE_TITLE.test(t)) throw new GatewayError('ERR_USAGE', `AE title "${ae}": 1–16 printable ASCII characters, no backslash (PS3.5 §6.2)`);
    return t;
  });
}

function checkDays(days: number | undefined, max: number): void {
  if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > max)) throw new GatewayError('ERR_USAGE', `--days must be a whole number from 1 to ${max}`);
}

/** Issues the certificate, writes cert (0644), key (0600) and PKCS#12 (0600). */
function issueFiles(paths: TlsFilePaths, ca: LoadedCa, name: string, o: BundleOptions): Omit<IssuedDevice, 'device'> {
  checkDays(o.days, 3650);
  const certificate = issueCertificate(ca, { commonName: name, usage: 'client', ...(o.days === undefined ? {} : { days: o.days }) });
  const files = deviceFiles(paths, name);
  const password = o.password ?? generateBundlePassword();
  const profile = o.profile ?? 'modern';
  const p12 = buildPkcs12({ keyPem: certificate.keyPem, certPem: certificate.certPem, caPem: ca.certPem, password, friendlyName: name, profile });
  // The gateway never reads this directory (only devices.yaml): it holds keys waiting to be installed.
  mkdirSync(paths.devicesDir, { recursive: true, mode: 0o700 });
  atomicWrite(files.key, certificate.keyPem, 0o600);
  atomicWrite(files.p12, p12, 0o600);
  atomicWrite(files.cert, certificate.certPem, 0o644);
  return { certificate, files, password, generated: o.password === undefined, profile };
}

function bound(certificate: IssuedCertificate): Pick<DeviceRecord, 'fingerprint' | 'serial' | 'notAfter'> {
  return { fingerprint: certificate.fingerprint256, serial: normaliseSerial(certificate.serial), notAfter: certificate.notAfter.toISOString() };
}

/** `certs issue-client`: a new device with its own certificate, registered with role and AE titles. */
export function issueDevice(paths: TlsFilePaths, ca: LoadedCa, registry: DeviceRegistry, roles: readonly string[],
  o: BundleOptions & { name: string; role: string; aeTitles: readonly string[] }): IssuedDevice {
  checkName(o.name);
  if (!roles.includes(o.role)) throw new GatewayError('ERR_ROLE_UNKNOWN', `role "${o.role}" is not in the configuration (roles: ${roles.join(', ')})`);
  const aeTitles = checkAeTitles(o.aeTitles);
  if (registry.get(o.name) !== undefined) throw new GatewayError('ERR_USAGE', `device "${o.name}" already exists: give it a new certificate with "certs renew ${o.name}", or choose another name`);
  const issued = issueFiles(paths, ca, o.name, o);
  const device: DeviceRecord = { name: o.name, role: o.role, aeTitles, moveDestinations: [], disabled: false, ...bound(issued.certificate) };
  registry.upsert(device);
  return { ...issued, device };
}

/** The serial of a device's current certificate: from the registry, else from its certificate file. */
function currentSerial(paths: TlsFilePaths, device: DeviceRecord): string | undefined {
  if (device.serial !== undefined) return normaliseSerial(device.serial);
  const file = deviceFiles(paths, device.name).cert;
  return existsSync(file) ? normaliseSerial(new X509Certificate(readFileSync(file)).serialNumber) : undefined;
}

function needDevice(registry: DeviceRegistry, name: string): DeviceRecord {
  const d = registry.get(name);
  if (d === undefined) throw new GatewayError('ERR_DEVICE_UNKNOWN', `no device "${name}" in the devices registry (see "certs list")`);
  return d;
}

/**
 * `certs renew`: a new key and certificate for the same name, role and AE titles; the registry
 * binds the new fingerprint at once and the old certificate is revoked (reason superseded).
 */
export function renewDevice(paths: TlsFilePaths, ca: LoadedCa, registry: DeviceRegistry, name: string, o: BundleOptions = {}): IssuedDevice & { readonly revokedSerial: string | undefined } {
  const old = needDevice(registry, name);
  if (old.revokedAt !== undefined) {
    throw new GatewayError('ERR_USAGE', `device "${name}" was revoked on ${old.revokedAt}; a revoked device is not renewed: issue a new certificate under a new name`);
  }
  const oldSerial = currentSerial(paths, old);
  const issued = issueFiles(paths, ca, name, o);
  const device: DeviceRecord = { ...old, ...bound(issued.certificate) };
  registry.upsert(device);
  if (oldSerial !== undefined) revokeSerials(paths, ca, [oldSerial], 'superseded');
  return { ...issued, device, revokedSerial: oldSerial };
}

/**
 * `certs revoke`: disables the device in the registry at once (the guards re-read it within a
 * moment and end its open associations), then adds its serial to the CRL.
 */
export function revokeDevice(paths: TlsFilePaths, ca: LoadedCa, registry: DeviceRegistry, name: string, reason?: RevocationReasonName, now = Date.now()):
  { device: DeviceRecord; serial: string | undefined; newlyRevoked: boolean } {
  const old = needDevice(registry, name);
  const device: DeviceRecord = { ...old, disabled: true, revokedAt: old.revokedAt ?? new Date(now).toISOString() };
  registry.upsert(device);
  const serial = currentSerial(paths, old);
  const added = serial === undefined ? [] : revokeSerials(paths, ca, [serial], reason, now);
  return { device, serial, newlyRevoked: added.length > 0 };
}

/** `certs list`: every device with its status, from the registry and the CA's CRL. */
export function listDevices(paths: TlsFilePaths, ca: LoadedCa | undefined, registry: DeviceRegistry, warningDays: number, now = Date.now()): DeviceListing[] {
  const revoked = ca === undefined ? new Set<string>() : revokedSerials(paths, ca.cert);
  return registry.list().map((d) => {
    const serial = d.serial === undefined ? undefined : normaliseSerial(d.serial);
    const left = d.notAfter === undefined ? Infinity : Date.parse(d.notAfter) - now;
    const status: DeviceStatus = d.revokedAt !== undefined || (serial !== undefined && revoked.has(serial)) ? 'revoked'
      : left <= 0 ? 'expired'
        : d.disabled ? 'disabled'
          : left < warningDays * DAY_MS ? 'expiring' : 'valid';
    return { name: d.name, role: d.role, aeTitles: d.aeTitles, serial, notAfter: d.notAfter, fingerprint: d.fingerprint, status };
  });
}
