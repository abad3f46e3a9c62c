// Builds the OIDC sign-in from the config (auth.oidc), or nothing when it is not configured.

import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { configPath } from '../../config/load.js';
import type { GatewayConfig } from '../../config/types.js';
import { GatewayError } from '../../errors.js';
import { resolveOidc, OidcRelyingParty } from './oidc-client.js';
import { OidcLogin, type OidcLoginDeps } from './oidc-login.js';

/** Reads a file auth.oidc names; a problem stops the gateway with ERR_CONFIG_INVALID naming the field. */
function readField(field: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new GatewayError('ERR_CONFIG_INVALID', `auth.oidc.${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

export function createOidcLogin(config: GatewayConfig, deps: Omit<OidcLoginDeps, 'rp' | 'sessionMaxMs'>): OidcLogin | undefined {
  const o = config.auth.oidc;
  if (o === undefined) return undefined;
  const caPath = o.ca === undefined ? undefined : configPath(config, o.ca);
  const keyPath = o.privateKeyJwt === undefined ? undefined : configPath(config, o.privateKeyJwt.key);
  const resolved = resolveOidc({
    ...o,
    ...(caPath === undefined ? {} : { ca: caPath }),
    ...(o.privateKeyJwt === undefined || keyPath === undefined ? {} : { privateKeyJwt: { ...o.privateKeyJwt, key: keyPath } }),
  }, (path) => readField(path === keyPath ? 'privateKeyJwt.key' : 'ca', path));
  if (resolved.privateKey !== undefined) {
    try {
      createPrivateKey(resolved.privateKey.pem);
    } catch (err) {
      throw new GatewayError('ERR_CONFIG_INVALID', `auth.oidc.privateKeyJwt.key: ${keyPath} is not a PEM private key`, { cause: err });
    }
  }
  const rp = new OidcRelyingParty(resolved);
  return new OidcLogin({ ...deps, rp, sessionMaxMs: config.session.maxHours * 3_600_000 });
}
