// The devices registry: client certificates bound to named principals (role, calling AE titles).

import { stringify } from 'yaml';
import { GatewayError } from '../errors.js';
import { readYamlSection } from '../util/read-yaml-section.js';
import { atomicWrite } from '../util/atomic-write.js';
import { watchFile } from '../util/watch-file.js';

export interface DeviceRecord {
  readonly name: string;
  readonly role: string;
  /** Calling AE titles this device may use; empty means it may not open DICOM associations. */
  readonly aeTitles: readonly string[];
  /** SHA-256 certificate fingerprint, colon-separated upper-case hex. */
  readonly fingerprint?: string;
  /**
   * Alternatively a subject common name: matches only certificates the gateway's own CA issued
   * (`certs init`), never one from another CA in tls.clientCa.
   */
  readonly subjectCn?: string;
  readonly moveDestinations: readonly string[];
  readonly disabled: boolean;
  readonly serial?: string;
  readonly notAfter?: string;
  /** When the device's certificate was revoked (`certs revoke`); a revoked device is also disabled. */
  readonly revokedAt?: string;
}

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

/** Normalises a fingerprint given as hex with or without colons, any case. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  return hex.match(/.{2}/g)?.join(':') ?? '';
}

function parseDevice(name: string, raw: unknown, file: string): DeviceRecord {
  const where = `${file}: devices.${name}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new GatewayError('ERR_CONFIG_INVALID', `${where}: device names are 1–64 letters, digits, ".", "_" or "-"`);
  if (typeof raw !== 'object' || raw === null) throw new GatewayError('ERR_CONFIG_INVALID', `${where}: must be a mapping`);
  const r = raw as Record<string, unknown>;
  if (typeof r['role'] !== 'string') throw new GatewayError('ERR_CONFIG_INVALID', `${where}.role: must be a role name`);
  const list = (k: string): string[] => {
    const v = r[k] ?? [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && /^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(x))) {
      throw new GatewayError('ERR_CONFIG_INVALID', `${where}.${k}: must be a list of AE titles (1–16 characters, no backslash)`);
    }
    return v.map((x: string) => x.trim());
  };
  const fp = r['fingerprint'];
  const cn = r['subjectCn'];
  if (fp === undefined && cn === undefined) throw new GatewayError('ERR_CONFIG_INVALID', `${where}: needs fingerprint (SHA-256) or subjectCn`);
  if (fp !== undefined && (typeof fp !== 'string' || !FINGERPRINT.test(normaliseFingerprint(fp)))) {
    throw new GatewayError('ERR_CONFIG_INVALID', `${where}.fingerprint: must be a SHA-256 fingerprint (64 hex digits, colons optional)`);
  }
  if (cn !== undefined && typeof cn !== 'string') throw new GatewayError('ERR_CONFIG_INVALID', `${where}.subjectCn: must be a string`);
  return {
    name, role: r['role'], aeTitles: list('aeTitles'), moveDestinations: list('moveDestinations'),
    disabled: r['disabled'] === true,
    ...(typeof fp === 'string' ? { fingerprint: normaliseFingerprint(fp) } : {}),
    ...(typeof cn === 'string' ? { subjectCn: cn } : {}),
    ...(typeof r['serial'] === 'string' ? { serial: r['serial'] } : {}),
    ...(typeof r['notAfter'] === 'string' ? { notAfter: r['notAfter'] } : {}),
    ...(typeof r['revokedAt'] === 'string' ? { revokedAt: r['revokedAt'] } : {}),
  };
}

/** Reads a devices file; a missing file is an empty registry. Throws ERR_CONFIG_INVALID naming the entry. */
export function readDevicesFile(file: string): Map<string, DeviceRecord> {
  const devices = new Map(readYamlSection(file, 'devices', 'ERR_CONFIG_INVALID').map(([name, entry]) => [name, parseDevice(name, entry, file)]));
  const cns = new Map<string, string>();
  for (const d of devices.values()) {
    if (d.fingerprint !== undefined || d.subjectCn === undefined) continue;
    const other = cns.get(d.subjectCn);
    if (other !== undefined) throw new GatewayError('ERR_CONFIG_INVALID', `${file}: devices.${other} and devices.${d.name} have the same subjectCn "${d.subjectCn}"; a certificate must name one device`);
    cns.set(d.subjectCn, d.name);
  }
  return devices;
}

/** In-memory view of the devices file, reloaded on change; an invalid new file leaves the old one in force. */
export class DeviceRegistry {
  readonly #file: string;
  #devices: Map<string, DeviceRecord>;
  #byFingerprint = new Map<string, DeviceRecord>();
  #bySubjectCn = new Map<string, DeviceRecord>();
  readonly #onReloadError: (err: GatewayError) => void;
  #stopWatch: (() => void) | undefined;

  constructor(file: string, options: { watch?: boolean; onReloadError?: (err: GatewayError) => void } = {}) {
    this.#file = file;
    this.#devices = readDevicesFile(file);
    this.#index();
    this.#onReloadError = options.onReloadError ?? (() => undefined);
    if (options.watch === true) this.#stopWatch = watchFile(file, () => this.reload());
  }

  #index(): void {
    const devices = [...this.#devices.values()];
    this.#byFingerprint = new Map(devices.filter((d) => d.fingerprint !== undefined).map((d) => [d.fingerprint as string, d]));
    this.#bySubjectCn = new Map(devices.filter((d) => d.fingerprint === undefined && d.subjectCn !== undefined).map((d) => [d.subjectCn as string, d]));
  }

  /**
   * The device a verified client certificate belongs to (disabled devices included; callers check):
   * by fingerprint, else by subject CN, and by CN only when `issuedByGatewayCa()` says the gateway's
   * own CA issued the certificate. Any CA in tls.clientCa can put any name in a certificate.
   */
  findByCertificate(cert: { readonly fingerprint256: string; readonly subjectCn: string | undefined }, issuedByGatewayCa: () => boolean): DeviceRecord | undefined {
    const byFp = this.#byFingerprint.get(normaliseFingerprint(cert.fingerprint256));
    if (byFp !== undefined) return byFp;
    const byCn = cert.subjectCn === undefined ? undefined : this.#bySubjectCn.get(cert.subjectCn);
    return byCn !== undefined && issuedByGatewayCa() ? byCn : undefined;
  }

  get(name: string): DeviceRecord | undefined { return this.#devices.get(name); }
  list(): DeviceRecord[] { return [...this.#devices.values()].sort((a, b) => a.name.localeCompare(b.name)); }

  reload(): void {
    try {
      this.#devices = readDevicesFile(this.#file);
      this.#index();
    } catch (err) {
      this.#onReloadError(err as GatewayError);
    }
  }

  /** Writes the registry with one device added or replaced (used by `certs issue-client` / `revoke`). */
  upsert(device: DeviceRecord): void {
    const fresh = readDevicesFile(this.#file);
    fresh.set(device.name, device);
    const doc: Record<string, unknown> = {};
    for (const [name, { name: _n, ...rest }] of fresh) doc[name] = rest;
    atomicWrite(this.#file, `# pacs-gateway devices: client certificates bound to principals (managed by "pacs-gateway certs").\n${stringify({ devices: doc })}`, 0o644);
    this.#devices = fresh;
    this.#index();
  }

  close(): void { this.#stopWatch?.(); }
}
