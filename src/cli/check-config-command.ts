// `pacs-gateway check-config`: validates the config and the files it names, exiting non-zero on errors.

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { configPath, loadConfig } from '../config/load.js';
import { readDevicesFile } from '../identity/device-registry.js';
import { readUsersFile } from '../identity/file-user-directory.js';
import { openDirectoryLogin } from '../identity/ldap/open-directory.js';
import { expiringWithin, expiryItems } from '../tls/expiry.js';
import { loadTlsMaterial } from '../tls/material.js';
import { tlsFilePaths } from '../tls/tls-paths.js';
import { defaultConfigFile } from './config-arg.js';
import { checkUpstream } from '../scan/upstream-check.js';
import type { GatewayConfig } from '../config/types.js';
import { packageVersion } from './version.js';
import { relayFileProblems, relaySummary } from '../relay/relay-check.js';
import { loadViewerBundle } from '../http/viewer/viewer-bundle.js';

const DAY_MS = 86_400_000;

/** Checks everything start-up would check, without listening. Returns the process exit code. */
export async function checkConfigCommand(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { config: { type: 'string' }, offline: { type: 'boolean' } } });
  const file = values.config ?? defaultConfigFile();
  let config;
  try {
    config = loadConfig(file);
  } catch (e) {
    err((e as Error).message);
    return 1;
  }
  const problems: string[] = [];
  const warnings: string[] = [];
  const p = (x: string): string => configPath(config, x);
  try {
    const users = config.users.backend !== 'redis' ? readUsersFile(p(config.users.file)) : new Map();
    for (const u of users.values()) {
      const directoryUser = u.source === 'ldap' || config.users.backend === 'ldap';
      if (directoryUser && config.users.ldap === undefined) problems.push(`${config.users.file}: user ${u.username} has source ldap, but users.ldap is not configured`);
      // A directory user's role is the one its groups mapped to at the last login ('' before the first).
      if (!(directoryUser && u.role === '') && !Object.hasOwn(config.roles, u.role)) problems.push(`${config.users.file}: user ${u.username} has role "${u.role}", which roles: does not define`);
    }
  } catch (e) { problems.push((e as Error).message); }
  try {
    for (const d of readDevicesFile(p(config.devices.file)).values()) {
      if (!Object.hasOwn(config.roles, d.role)) problems.push(`${config.devices.file}: device ${d.name} has role "${d.role}", which roles: does not define`);
      if (d.notAfter !== undefined && !d.disabled && Date.parse(d.notAfter) - Date.now() < config.tls.expiryWarningDays * DAY_MS) {
        warnings.push(`device ${d.name}: certificate expires ${d.notAfter} (renew: pacs-gateway certs renew ${d.name})`);
      }
    }
  } catch (e) { problems.push((e as Error).message); }
  const files = tlsFilePaths(config);
  const tlsPaths = { cert: files.cert, key: files.key, clientCa: files.clientCa, crl: files.crl, crlRequired: files.crlRequired, ecdsaCert: files.ecdsaCert, ecdsaKey: files.ecdsaKey, ecdsaRequired: files.ecdsaRequired };
  const missing = [tlsPaths.cert, tlsPaths.key, tlsPaths.clientCa].filter((f) => !existsSync(f));
  if (missing.length > 0 && config.tls.autoGenerate) {
    warnings.push(`TLS files missing (${missing.join(', ')}): tls.autoGenerate will create DEVELOPMENT certificates at start`);
  } else {
    try {
      const m = loadTlsMaterial(tlsPaths);
      for (const w of expiringWithin(expiryItems(m, []), config.tls.expiryWarningDays, Date.now())) {
        warnings.push(`${w.what} ${w.name} expires ${w.notAfter.toISOString()} (fix: ${w.fix})`);
      }
    } catch (e) { problems.push((e as Error).message); }
  }
  config.audit.syslog.forEach((d, i) => {
    for (const k of ['ca', 'cert', 'key'] as const) {
      if (!existsSync(p(d[k]))) problems.push(`audit.syslog.${i}.${k}: file ${d[k]} does not exist (the ATNA destination ${d.host}:${d.port} needs it for mutual TLS)`);
    }
  });
  if (config.users.ldap !== undefined) await checkDirectory(config, values.offline === true, out, problems);
  problems.push(...relayFileProblems(config));
  if (config.relay !== undefined) out(relaySummary(config.relay));
  if (config.viewer.enabled) {
    const viewer = loadViewerBundle(p(config.viewer.path));
    if (!viewer.ok) warnings.push(`${viewer.problem}: /viewer/ will answer 503 (or set viewer.enabled: false)`);
  }
  if (values.offline !== true) await reportUpstream(config, out, warnings);
  for (const w of warnings) err(`warning: ${w}`);
  if (problems.length > 0) {
    err(`${file} has problems:\n  - ${problems.join('\n  - ')}`);
    return 1;
  }
  out(`${file}: configuration OK`);
  return 0;
}

/** users.ldap: the CA file, and (unless --offline) a TLS connection and the service account's bind. */
async function checkDirectory(config: GatewayConfig, offline: boolean, out: (s: string) => void, problems: string[]): Promise<void> {
  let directory;
  try {
    directory = openDirectoryLogin(config, Date.now)?.directory;
  } catch (e) {
    problems.push((e as Error).message);
    return;
  }
  if (directory === undefined || offline) return;
  try {
    await directory.ping();
    out(`users.ldap: ${directory.url} answers over TLS with the pinned CA${config.users.ldap?.bindDn.includes('{username}') === true ? '' : ' and accepts the service account'}`);
  } catch (e) {
    problems.push(`users.ldap: ${(e as Error).message}`);
  }
}

/**
 * Probes the upstream PACS from this host without credentials (as `pacs-gateway scan` does): its
 * ports must answer the gateway, and so must be firewalled from every other host. Not an error
 * either way; a PACS that does not answer is a warning.
 */
async function reportUpstream(config: GatewayConfig, out: (s: string) => void, warnings: string[]): Promise<void> {
  const report = await checkUpstream(config, { version: packageVersion() });
  out('upstream PACS, probed from this host without credentials:');
  for (const l of report.lines) {
    const verdict = l.verdict === 'exposed' ? 'answers without authentication' : l.verdict === 'closed' ? 'does not answer from here' : l.verdict;
    out(`  ${l.what}: ${verdict}: ${l.evidence.join('; ')}`);
    if (l.verdict === 'closed') warnings.push(`upstream ${l.what} does not answer from this host (${l.evidence.join('; ')}): the gateway cannot reach the PACS`);
  }
  if (report.open.length > 0) {
    out(`  This is expected: the gateway connects to the PACS without credentials. Firewall ${report.open.join(' and ')} so that only this host (the gateway) reaches ${report.open.length === 1 ? 'it' : 'them'}: from anywhere else ${report.open.length === 1 ? 'it is' : 'they are'} an open door around the gateway (check with: pacs-gateway scan from another host).`);
  }
}
