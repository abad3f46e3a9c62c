// `pacs-gateway certs …`: the gateway's own small CA for devices — init, issue-server, issue-client, list, revoke, renew.

import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { configPath } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { DeviceRegistry } from '../identity/device-registry.js';
import { initCa, issueServerCertificate, loadCa, type ServerKeyType } from '../tls/ca-store.js';
import type { RevocationReasonName } from '../tls/crl-build.js';
import { issueDevice, listDevices, renewDevice, revokeDevice, type IssuedDevice } from '../tls/device-certs.js';
import { checkBundlePassword, PKCS12_ITERATIONS } from '../tls/pkcs12.js';
import { tlsFilePaths, type TlsFilePaths } from '../tls/tls-paths.js';
import { cliAudit, cliAuditConfig, cliAuditRecorded } from './cli-audit.js';
import { configFromArgs } from './config-arg.js';
import { refusalReason } from './refusal-reason.js';
import { readStdinLine } from './prompt.js';

export const CERTS_USAGE = `pacs-gateway certs <command> [options]

  init [--force] [--cn NAME] [--days N] [--dns NAME… --ip ADDRESS… [--key-type rsa|ecdsa|both]]
                         create the gateway CA: tls.clientCa, its key beside it (mode 0600), an empty CRL;
                         with --dns/--ip, also the server certificate(s) as issue-server makes them
  issue-server --dns NAME… --ip ADDRESS… [--days N] [--key-type rsa|ecdsa|both]
                         the gateway's server certificate; default 397 days. --key-type rsa (the default):
                         tls.cert and tls.key; ecdsa: an ECDSA P-256 pair in tls.ecdsa (default
                         server-ec.crt / server-ec.key beside tls.cert), served beside the RSA one;
                         both: the two (cheaper handshakes for clients that support ECDSA)
  issue-client NAME --role ROLE --ae AETITLE… [--days N] [--p12-password-stdin] [--p12-legacy]
                         a device certificate: certs/devices/NAME.crt, .key and a PKCS#12 bundle NAME.p12;
                         registers the device (role, calling AE titles, fingerprint); default 730 days
  list [--json]          devices with role, AE titles, serial, expiry and status (valid, expiring, expired, revoked, disabled)
  revoke NAME [--reason key-compromise|superseded|affiliation-changed|cessation-of-operation]
                         disable the device at once and add its certificate to the CRL
  renew NAME [--days N] [--p12-password-stdin] [--p12-legacy]
                         a new key and certificate for the device (same role and AE titles); the old one is revoked

--ae and --dns/--ip may be repeated. The PKCS#12 password is generated and printed unless given on stdin.
A running gateway picks every change up by itself (file watch) or on SIGHUP.
Options: --config FILE (default: $PACS_GATEWAY_CONFIG, config/gateway.yaml, config/gateway.example.yaml)`;

type Out = (s: string) => void;

const REASONS: Readonly<Record<string, RevocationReasonName>> = Object.freeze({
  'key-compromise': 'keyCompromise', superseded: 'superseded', 'affiliation-changed': 'affiliationChanged',
  'cessation-of-operation': 'cessationOfOperation', unspecified: 'unspecified',
});

function days(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new GatewayError('ERR_USAGE', `--days must be a whole number of days (got "${v}")`);
  return Number(v);
}

/** Paths shown relative to the working directory, as the admin typed them. */
function show(file: string): string {
  const r = relative(process.cwd(), file);
  return r.startsWith('..') ? file : r;
}

function crlNote(config: GatewayConfig, paths: TlsFilePaths): string {
  return config.tls.crl === undefined
    ? `tls.crl is not set, so the gateway uses ${show(paths.crl)} because it exists (set tls.crl: ${show(paths.crl)} to make that explicit)`
    : `tls.crl: ${show(paths.crl)}`;
}

async function bundleOptions(values: { days?: string | undefined; 'p12-password-stdin'?: boolean | undefined; 'p12-legacy'?: boolean | undefined }): Promise<{ days: number | undefined; password: string | undefined; profile: 'modern' | 'legacy' }> {
  let password: string | undefined;
  if (values['p12-password-stdin'] === true) {
    password = await readStdinLine();
    checkBundlePassword(password);
  }
  return { days: days(values.days), password, profile: values['p12-legacy'] === true ? 'legacy' : 'modern' };
}

function describeBundle(d: IssuedDevice, out: Out, json: boolean, extra: Record<string, unknown> = {}): void {
  const { device, files } = d;
  if (json) {
    out(JSON.stringify({
      name: device.name, role: device.role, aeTitles: device.aeTitles, serial: device.serial, notAfter: device.notAfter, fingerprint: device.fingerprint,
      files, pkcs12: { profile: d.profile, ...(d.generated ? { password: d.password } : {}) }, ...extra,
    }));
    return;
  }
  const algo = d.profile === 'modern'
    ? `AES-256-CBC, PBKDF2-HMAC-SHA256 ${PKCS12_ITERATIONS} iterations, HMAC-SHA256 MAC`
    : '3DES (pbeWithSHAAnd3-KeyTripleDES-CBC), HMAC-SHA1 MAC — legacy importers only';
  out([
    `Device ${device.name}: role ${device.role}, calling AE titles ${device.aeTitles.length === 0 ? '(none: no DICOM associations)' : device.aeTitles.join(', ')}`,
    `  serial ${device.serial}, valid until ${device.notAfter}`,
    `  fingerprint ${device.fingerprint}`,
    `  certificate  ${show(files.cert)}`,
    `  private key  ${show(files.key)} (mode 0600)`,
    `  PKCS#12      ${show(files.p12)} (mode 0600; ${algo})`,
    ...(d.generated ? [`  PKCS#12 password: ${d.password}`, '  (shown only now; pass --p12-password-stdin to choose one)'] : []),
    'Install the key and certificate (or the PKCS#12 bundle) on the device, with the CA certificate as its trust anchor.',
  ].join('\n'));
}

/** --key-type, checked: rsa (the default), ecdsa (beside an existing RSA certificate) or both. */
function serverKeyType(paths: TlsFilePaths, value: string | undefined): ServerKeyType {
  const keyType = value ?? 'rsa';
  if (keyType !== 'rsa' && keyType !== 'ecdsa' && keyType !== 'both') throw new GatewayError('ERR_USAGE', `--key-type: one of rsa, ecdsa, both (got "${keyType}")`);
  if (keyType === 'ecdsa' && !existsSync(paths.cert)) throw new GatewayError('ERR_USAGE', `--key-type ecdsa adds an ECDSA certificate beside the RSA one, and there is none at ${show(paths.cert)} (tls.cert): use --key-type both`);
  return keyType;
}

/** `certs issue-server` (and `certs init --dns/--ip`): RSA, ECDSA or both server certificates from the CA. */
function issueServer(paths: TlsFilePaths, config: GatewayConfig, values: { days?: string | undefined; dns?: string[] | undefined; ip?: string[] | undefined; 'key-type'?: string | undefined }, json: boolean, out: Out): CertSerial[] {
  const ca = loadCa(paths);
  const d = days(values.days);
  if (d !== undefined && (d < 1 || d > 825)) throw new GatewayError('ERR_USAGE', '--days for a server certificate: 1 to 825 (default 397, the CA/Browser Forum limit)');
  const keyType = serverKeyType(paths, values['key-type']);
  const s = issueServerCertificate(paths, ca, { dnsNames: values.dns ?? [], ipAddresses: values.ip ?? [], keyType, ...(d === undefined ? {} : { days: d }) });
  const rows = [
    ...(s.rsa === undefined ? [] : [{ type: 'rsa', c: s.rsa, cert: paths.cert, key: paths.key }]),
    ...(s.ecdsa === undefined ? [] : [{ type: 'ecdsa', c: s.ecdsa, cert: paths.ecdsaCert, key: paths.ecdsaKey }]),
  ];
  const first = rows[0] as (typeof rows)[number];
  const describe = (r: typeof first): Record<string, unknown> => ({ serial: r.c.serial, notAfter: r.c.notAfter.toISOString(), fingerprint: r.c.fingerprint256, cert: r.cert, key: r.key });
  // JSON: the first certificate's fields at the top level (as before), each one under its key type.
  if (json) out(JSON.stringify({ ...describe(first), ...Object.fromEntries(rows.map((r) => [r.type, describe(r)])) }));
  else {
    out(rows.map((r) => `${r.type === 'rsa' ? 'RSA' : 'ECDSA P-256'} server certificate for ${[...(values.dns ?? []), ...(values.ip ?? [])].join(', ')}: serial ${r.c.serial}, valid until ${r.c.notAfter.toISOString()}\n  ${show(r.cert)}\n  ${show(r.key)} (mode 0600)`).join('\n'));
    if (s.ecdsa !== undefined && config.tls.ecdsa === undefined) out(`tls.ecdsa is not set, so the gateway serves ${show(paths.ecdsaCert)} because it exists, beside tls.cert`);
    out('A running gateway serves it from the next TLS handshake on (open connections keep theirs).');
  }
  return rows.map((r) => ({ serial: r.c.serial, name: `server (${r.type})` }));
}

/** A certificate in an audit event: its serial and what it is (a device name, "CA", "server (rsa)"). */
interface CertSerial { readonly serial: string; readonly name: string }

/** The event of each certs command that changes something (list has none). */
const CHANGE_EVENT: Readonly<Record<string, 'cert.issued' | 'cert.revoked'>> = {
  init: 'cert.issued', 'issue-server': 'cert.issued', 'issue-client': 'cert.issued', renew: 'cert.issued', revoke: 'cert.revoked',
};

/** Runs `certs <sub>`; returns the exit code. */
export async function certsCommand(argv: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      config: { type: 'string' }, force: { type: 'boolean' }, cn: { type: 'string' }, days: { type: 'string' },
      dns: { type: 'string', multiple: true }, ip: { type: 'string', multiple: true }, ae: { type: 'string', multiple: true },
      role: { type: 'string' }, 'p12-password-stdin': { type: 'boolean' }, 'p12-legacy': { type: 'boolean' },
      json: { type: 'boolean' }, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' }, 'key-type': { type: 'string' },
    },
  });
  const [sub, name, ...extra] = positionals;
  if (values.help === true || sub === undefined) {
    out(CERTS_USAGE);
    return values.help === true ? 0 : 2;
  }
  if (extra.length > 0) throw new GatewayError('ERR_USAGE', `unexpected arguments: ${extra.join(' ')}`);
  const { config } = configFromArgs(values);
  cliAuditConfig(config);
  try {
    return await certsChange(sub, name, values, config, out, err);
  } catch (e) {
    const event = Object.hasOwn(CHANGE_EVENT, sub) ? CHANGE_EVENT[sub] : undefined;
    const reason = refusalReason(e);
    if (event !== undefined && reason !== undefined && !cliAuditRecorded()) {
      cliAudit({ event, decision: 'deny', reason, ...(name === undefined ? {} : { device: name }), command: `certs ${sub}` });
    }
    throw e;
  }
}

type CertsValues = Parameters<typeof issueServer>[2] & { force?: boolean | undefined; cn?: string | undefined; role?: string | undefined; ae?: string[] | undefined; reason?: string | undefined; json?: boolean | undefined; 'p12-password-stdin'?: boolean | undefined; 'p12-legacy'?: boolean | undefined };

async function certsChange(sub: string, name: string | undefined, values: CertsValues, config: GatewayConfig, out: Out, err: Out): Promise<number> {
  const paths = tlsFilePaths(config);
  const json = values.json === true;
  const needName = (): string => {
    if (name === undefined) throw new GatewayError('ERR_USAGE', `certs ${sub} needs a device NAME`);
    return name;
  };
  const registry = (): DeviceRegistry => new DeviceRegistry(configPath(config, config.devices.file));

  switch (sub) {
    case 'init': {
      if (values.dns !== undefined || values.ip !== undefined) serverKeyType(paths, values['key-type']); // refused before the CA is made
      const r = initCa(paths, { force: values.force === true, ...(values.cn === undefined ? {} : { commonName: values.cn }), ...(days(values.days) === undefined ? {} : { days: days(values.days) as number }) });
      for (const b of r.backups) err(`moved the old ${show(b.replace(/\.replaced-.*$/, ''))} aside to ${show(b)}`);
      out([
        `CA "${new X509Certificate(r.ca.certPem).subject.replace(/\n/g, ', ')}" created, valid until ${r.ca.notAfter.toISOString()}:`,
        `  ${show(paths.clientCa)}  CA certificate (tls.clientCa): devices need it to trust the gateway`,
        `  ${show(paths.caKey)}  CA private key, mode 0600: keep it here, never copy it to a device`,
        `  ${show(paths.crl)}  empty CRL; ${crlNote(config, paths)}`,
        ...(r.backups.length > 0 ? ['Every certificate the old CA issued no longer works: issue new ones.'] : []),
        ...(values.dns === undefined && values.ip === undefined ? ['Next: pacs-gateway certs issue-server --dns <gateway host name> --ip <gateway address> [--key-type both]'] : []),
      ].join('\n'));
      const caSerial: CertSerial = { serial: new X509Certificate(r.ca.certPem).serialNumber.toLowerCase(), name: 'CA' };
      const audited = { event: 'cert.issued', decision: 'allow', reason: 'ca-created', replaced: r.backups.length > 0, command: 'certs init' } as const;
      if (values.dns === undefined && values.ip === undefined) {
        cliAudit({ ...audited, serials: [caSerial] });
        return 0;
      }
      // --days is the CA's here; the server certificate gets its default (397 days).
      const server = issueServer(paths, config, { ...values, days: undefined }, false, out);
      cliAudit({ ...audited, serials: [caSerial, ...server] });
      return 0;
    }
    case 'issue-server': {
      const serials = issueServer(paths, config, values, json, out);
      cliAudit({ event: 'cert.issued', decision: 'allow', reason: 'server-certificate-issued', serials, dnsNames: values.dns ?? [], ipAddresses: values.ip ?? [], command: 'certs issue-server' });
      return 0;
    }
    case 'issue-client': {
      const n = needName();
      if (values.role === undefined) throw new GatewayError('ERR_USAGE', `certs issue-client needs --role (one of: ${Object.keys(config.roles).join(', ')})`);
      const ca = loadCa(paths);
      const issued = issueDevice(paths, ca, registry(), Object.keys(config.roles), { name: n, role: values.role, aeTitles: values.ae ?? [], ...(await bundleOptions(values)) });
      const d = issued.device;
      cliAudit({ event: 'cert.issued', decision: 'allow', reason: 'device-certificate-issued', device: n, role: d.role, aeTitles: d.aeTitles, serials: d.serial === undefined ? [] : [{ serial: d.serial, name: n }], notAfter: d.notAfter, command: 'certs issue-client' });
      describeBundle(issued, out, json);
      return 0;
    }
    case 'renew': {
      const n = needName();
      const ca = loadCa(paths);
      const r = renewDevice(paths, ca, registry(), n, await bundleOptions(values));
      cliAudit({
        event: 'cert.issued', decision: 'allow', reason: 'device-certificate-renewed', device: n, role: r.device.role,
        serials: [...(r.device.serial === undefined ? [] : [{ serial: r.device.serial, name: n }]), ...(r.revokedSerial === undefined ? [] : [{ serial: r.revokedSerial, name: `${n} (revoked: superseded)` }])],
        ...(r.revokedSerial === undefined ? {} : { revokedSerial: r.revokedSerial }), notAfter: r.device.notAfter, command: 'certs renew',
      });
      describeBundle(r, out, json, { revokedSerial: r.revokedSerial });
      if (!json) out(`The old certificate${r.revokedSerial === undefined ? '' : ` (serial ${r.revokedSerial})`} is revoked and no longer accepted: install the new one on the device now.`);
      return 0;
    }
    case 'revoke': {
      const n = needName();
      const reason = values.reason === undefined ? undefined : REASONS[values.reason];
      if (values.reason !== undefined && reason === undefined) throw new GatewayError('ERR_USAGE', `--reason: one of ${Object.keys(REASONS).join(', ')}`);
      const ca = loadCa(paths);
      const r = revokeDevice(paths, ca, registry(), n, reason);
      cliAudit({ event: 'cert.revoked', decision: 'allow', reason: values.reason ?? 'unspecified', device: n, serials: r.serial === undefined ? [] : [{ serial: r.serial, name: n }], newlyRevoked: r.newlyRevoked, command: 'certs revoke' });
      if (json) out(JSON.stringify({ name: n, serial: r.serial, revokedAt: r.device.revokedAt, crl: paths.crl, newlyRevoked: r.newlyRevoked }));
      else {
        out(`Device ${n} disabled in the registry (its open associations end within seconds).`);
        out(r.serial === undefined
          ? 'Its certificate was not issued here (no serial known), so it is not in the CRL; the registry alone refuses it.'
          : `Serial ${r.serial} ${r.newlyRevoked ? 'added to' : 'was already in'} the CRL ${show(paths.crl)}; ${crlNote(config, paths)}.`);
      }
      return 0;
    }
    case 'list': {
      const ca = existsSync(paths.caKey) ? loadCa(paths) : undefined;
      const rows = listDevices(paths, ca, registry(), config.tls.expiryWarningDays);
      if (json) out(JSON.stringify(rows));
      else if (rows.length === 0) out('no devices yet: add one with "pacs-gateway certs issue-client NAME --role ROLE --ae AETITLE"');
      else {
        out(`${'NAME'.padEnd(20)} ${'ROLE'.padEnd(14)} ${'AE TITLES'.padEnd(24)} ${'SERIAL'.padEnd(33)} ${'EXPIRES'.padEnd(11)} STATUS`);
        for (const r of rows) {
          out(`${r.name.padEnd(20)} ${r.role.padEnd(14)} ${(r.aeTitles.join(',') || '-').padEnd(24)} ${(r.serial ?? '-').padEnd(33)} ${(r.notAfter?.slice(0, 10) ?? '-').padEnd(11)} ${r.status}`);
        }
      }
      return 0;
    }
    default:
      throw new GatewayError('ERR_USAGE', `unknown certs command "${sub}"\n\n${CERTS_USAGE}`);
  }
}
