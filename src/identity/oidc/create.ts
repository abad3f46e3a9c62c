// Builds the OIDC sign-in from the config (auth.oidc), or nothing when it is not configured.

import { configPath } from '../../config/load.js';
import type { GatewayConfig } from '../../config/types.js';
import { resolveOidc, OidcRelyingParty } from './oidc-client.js';
import { OidcLogin, type OidcLoginDeps } from './oidc-login.js';

export function createOidcLogin(config: GatewayConfig, deps: Omit<OidcLoginDeps, 'rp' | 'sessionMaxMs'>): OidcLogin | undefined {
  const o = config.auth.oidc;
  if (o === undefined) return undefined;
  const rp = new OidcRelyingParty(resolveOidc(o.ca === undefined ? o : { ...o, ca: configPath(config, o.ca) }));
  return new OidcLogin({ ...deps, rp, sessionMaxMs: config.session.maxHours * 3_600_000 });
}
