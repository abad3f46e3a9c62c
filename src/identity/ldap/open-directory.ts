// The directory login the configuration asks for (users.ldap), wired the same way by the gateway and check-config.

import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import { configPath } from '../../config/load.js';
import type { GatewayConfig } from '../../config/types.js';
import type { DirectoryLogin } from '../login.js';
import { LdapDirectory } from './ldap-directory.js';

/** Reads users.ldap.ca; throws ERR_CERT_INVALID naming the file when it holds no certificate. */
export function readDirectoryCa(config: GatewayConfig): string {
  const file = configPath(config, config.users.ldap?.ca ?? '');
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
    new X509Certificate(pem);
  } catch (err) {
    throw new GatewayError('ERR_CERT_INVALID', `users.ldap.ca: ${file} is not a readable PEM certificate (${(err as Error).message})`);
  }
  return pem;
}

/** The directory and whether it holds every user's password, or undefined without users.ldap. */
export function openDirectoryLogin(config: GatewayConfig, clock: () => number): (DirectoryLogin & { readonly directory: LdapDirectory }) | undefined {
  const ldap = config.users.ldap;
  if (ldap === undefined) return undefined;
  return { directory: new LdapDirectory({ ...ldap, caPem: readDirectoryCa(config), clock }), allUsers: config.users.backend === 'ldap' };
}
