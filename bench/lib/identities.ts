// Certificates (one CA, a server certificate shared by every TLS endpoint, a device certificate), the devices file and the users file.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hashPassword } from '../../src/identity/password.js';
import { generateTotpSecret } from '../../src/identity/totp.js';
import { createCa, issueCertificate } from '../../src/tls/issue.js';

/** The AE title the bench's DICOM clients call from (the device certificate is bound to it). */
export const CALLING_AE = 'BENCH';
/** The gateway role every bench principal has. */
export const BENCH_ROLE = 'bench';
export const BENCH_ACTIONS = Object.freeze(['echo', 'search', 'retrieve', 'store']);

export interface PemFiles { readonly cert: string; readonly key: string }

export interface BenchUser { readonly username: string; readonly password: string; readonly totpSecret: string }

export interface BenchIdentities {
  /** CA certificate file: trusted by every client and, for client certificates, by the gateway and stunnel. */
  readonly caFile: string;
  /** Server certificate and key used by the gateway, stunnel and nginx alike (RSA 2048, SAN localhost + 127.0.0.1). */
  readonly server: PemFiles;
  /** Client (device) certificate, registered in the devices file with role `bench` and AE title BENCH. */
  readonly device: PemFiles;
  readonly devicesFile: string;
  readonly usersFile: string;
  /** The user whose bearer session drives the HTTP load. */
  readonly viewer: BenchUser;
  /** Users for DICOM user identity (type 2): one per association, since a TOTP code is accepted once. */
  readonly identityUsers: readonly BenchUser[];
  /** Users for the login-rate scenario, each logging in once. */
  readonly loginUsers: readonly BenchUser[];
}

const PASSWORD = 'bench-Passw0rd-not-a-secret';

/**
 * Writes everything under `dir`. All users share one password hash (scrypt N=2^17 takes a
 * moment per hash); each has its own TOTP secret.
 */
export async function createIdentities(dir: string, counts: { identityUsers: number; loginUsers: number }): Promise<BenchIdentities> {
  const pki = join(dir, 'pki');
  mkdirSync(pki, { recursive: true });
  const ca = createCa({ commonName: 'pacs-gateway bench CA' });
  const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const device = issueCertificate(ca, { commonName: 'bench-modality', usage: 'client' });
  const file = (name: string, text: string): string => {
    const path = join(pki, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const caFile = file('ca.crt', ca.certPem);
  const serverFiles = { cert: file('server.crt', server.certPem), key: file('server.key', server.keyPem) };
  const deviceFiles = { cert: file('device.crt', device.certPem), key: file('device.key', device.keyPem) };

  const devicesFile = join(dir, 'devices.yaml');
  writeFileSync(devicesFile, stringify({
    devices: { 'bench-modality': { role: BENCH_ROLE, aeTitles: [CALLING_AE], fingerprint: device.fingerprint256 } },
  }));

  const passwordHash = await hashPassword(PASSWORD);
  const make = (username: string): BenchUser => ({ username, password: PASSWORD, totpSecret: generateTotpSecret() });
  const viewer = make('bench-viewer');
  const identityUsers = Array.from({ length: counts.identityUsers }, (_, i) => make(`bench-dicom-${i}`));
  const loginUsers = Array.from({ length: counts.loginUsers }, (_, i) => make(`bench-login-${i}`));
  const now = new Date().toISOString();
  const users: Record<string, unknown> = {};
  for (const u of [viewer, ...identityUsers, ...loginUsers]) {
    users[u.username] = { role: BENCH_ROLE, passwordHash, totpSecret: u.totpSecret, disabled: false, createdAt: now, updatedAt: now };
  }
  const usersFile = join(dir, 'users.yaml');
  writeFileSync(usersFile, stringify({ users }), { mode: 0o600 });
  return { caFile, server: serverFiles, device: deviceFiles, devicesFile, usersFile, viewer, identityUsers, loginUsers };
}
