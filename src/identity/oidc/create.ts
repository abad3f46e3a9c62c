// Builds the OIDC sign-in from the config (auth.oidc), or nothing when it is not configured.

import { readFileSync } from 'node:fs';
import { configPath } from '../../config/load.js';
import { GatewayError } from '../../errors.js';
import type { GatewayConfig } from '../../config/types.js';
import { resolveOidc, OidcRelyingParty } from './oidc-client.js';
import { OidcLogin, type OidcLoginDeps } from './oidc-login.js';

export function createOidcLogin(config: GatewayConfig, deps: Omit<OidcLoginDeps, 'rp' | 'sessionMaxMs'>): OidcLogin | undefined {
  const o = config.auth.oidc;
  if (o === undefined) return undefined;
  const readCa = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new GatewayError('ERR_CONFIG_INVALID', `auth.oidc.ca: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  };
  const rp = new OidcRelyingParty(resolveOidc(o.ca === undefined ? o : { ...o, ca: configPath(config, o.ca) }, readCa));
  return new OidcLogin({ ...deps, rp, sessionMaxMs: config.session.maxHours * 3_600_000 });
}
