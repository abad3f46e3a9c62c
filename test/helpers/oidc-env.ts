// Test helper: a real OpenID Provider (./oidc-provider.ts) and a real gateway (with Orthanc and the
// DIMSE listener, ../dicom/helpers/dicom-env.ts) configured to sign users in through it.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDicomEnv, type DicomEnv, type DicomEnvOptions } from '../dicom/helpers/dicom-env.js';
import type { HttpAnswer } from './gateway.js';
import { startIdp, type IdpUser, type TestIdp } from './oidc-provider.js';
import { freePort } from './ports.js';

export const CLIENT_ID = 'pacs-gateway';
export const PENDING_COOKIE = '__Host-pacs-oidc';
export const SESSION_COOKIE = '__Host-pacs-session';

/** Users of the test IdP: with and without MFA, with mapped and unmapped groups. */
export const IDP_USERS: Readonly<Record<string, IdpUser>> = Object.freeze({
  'u-alice': { preferred_username: 'alice', email: 'alice@hospital.test', groups: ['pacs-radiologists', 'staff'], amr: ['pwd', 'otp'] },
  'u-carol': { preferred_username: 'carol', groups: ['pacs-viewers'], acr: 'urn:test:loa:2' },
  'u-bob': { preferred_username: 'bob', groups: ['pacs-radiologists'], amr: ['pwd'] },
  'u-bea': { preferred_username: 'bea', groups: ['pacs-radiologists'], acr: 'urn:test:loa:1' },
  'u-dave': { preferred_username: 'dave', groups: ['kitchen'], amr: ['pwd', 'mfa'] },
  'u-tess': { preferred_username: 'tess', groups: ['pacs-technologists'], amr: ['hwk'] },
});

export interface OidcEnv {
  readonly idp: TestIdp;
  readonly env: DicomEnv;
  readonly clientSecret: string;
  /** The whole redirect flow without a browser: start, IdP login as `idpUser`, callback. */
  signIn(idpUser: string, options?: { sameBrowser?: boolean }): Promise<SignInResult>;
  stop(): Promise<void>;
}

export interface SignInResult {
  readonly start: HttpAnswer;
  /** The URL the IdP sent the browser back to. */
  readonly callbackUrl: string;
  readonly pendingCookie: string;
  readonly callback: HttpAnswer;
  /** The session cookie's value, when the sign-in succeeded. */
  readonly session?: string;
}

export function cookieValue(answer: HttpAnswer, name: string): string | undefined {
  const set = answer.headers['set-cookie'];
  for (const c of Array.isArray(set) ? set : set === undefined ? [] : [set]) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(c);
    if (m !== null && m[1] !== '') return m[1];
  }
  return undefined;
}

/** `local`: auth.local (false: IdP only); left out, the default (true). `gatewayOptions`: as startDicomEnv's (e.g. revalidateMs). */
export async function startOidcEnv(options: { config?: Record<string, unknown>; users?: Readonly<Record<string, IdpUser>>; local?: boolean; gatewayOptions?: DicomEnvOptions['gatewayOptions'] } = {}): Promise<OidcEnv> {
  const gwPort = await freePort();
  const gwUrl = `https://127.0.0.1:${gwPort}`;
  const clientSecret = `secret-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}-long`;
  let gatewayCa: string | undefined;
  const idp = await startIdp({
    users: options.users ?? IDP_USERS,
    client: {
      clientId: CLIENT_ID, clientSecret, redirectUri: `${gwUrl}/auth/oidc/callback`,
      postLogoutRedirectUri: `${gwUrl}/login`, backchannelLogoutUri: `${gwUrl}/auth/oidc/backchannel-logout`,
    },
    trustCa: () => gatewayCa,
  });
  const dir = mkdtempSync(join(tmpdir(), 'pgw-oidc-'));
  const caFile = join(dir, 'idp-ca.pem');
  writeFileSync(caFile, idp.caPem);
  let env: DicomEnv;
  try {
    env = await startDicomEnv({
      ...(options.gatewayOptions === undefined ? {} : { gatewayOptions: options.gatewayOptions }),
      roles: { technologist: ['echo', 'store', 'search'] },
      config: {
        listen: { https: { host: '127.0.0.1', port: gwPort } },
        auth: {
          ...(options.local === undefined ? {} : { local: options.local }),
          oidc: {
            name: 'Test Hospital IdP', issuer: idp.issuer, clientId: CLIENT_ID, clientSecret,
            redirectUrl: `${gwUrl}/auth/oidc/callback`, ca: caFile,
            scopes: ['openid', 'profile', 'email', 'groups'],
            requireMfa: { acr: ['urn:test:loa:2'], amr: ['otp', 'mfa', 'hwk'] },
            roleClaim: 'groups',
            roleMap: { 'pacs-radiologists': 'radiologist', 'pacs-viewers': 'viewer', 'pacs-technologists': 'technologist' },
            usernameClaim: 'preferred_username',
          },
        },
        ...options.config,
      },
    });
  } catch (err) {
    await idp.stop();
    throw err;
  }
  gatewayCa = readFileSync(join(env.gw.dir, 'certs/ca.crt'), 'utf8');
  const { gw } = env;
  return {
    idp, env, clientSecret,
    async signIn(idpUser, options) {
      const start = await gw.request('GET', '/auth/oidc/start');
      const location = start.headers.location;
      if (start.status !== 303 || typeof location !== 'string') throw new Error(`/auth/oidc/start answered ${start.status}: ${start.text.slice(0, 300)}`);
      const pendingCookie = cookieValue(start, PENDING_COOKIE) ?? '';
      const callbackUrl = await idp.signIn(location, idpUser, options);
      const u = new URL(callbackUrl);
      const callback = await gw.request('GET', `${u.pathname}${u.search}`, { headers: { cookie: `${PENDING_COOKIE}=${pendingCookie}` } });
      const session = cookieValue(callback, SESSION_COOKIE);
      return { start, callbackUrl, pendingCookie, callback, ...(session === undefined ? {} : { session }) };
    },
    async stop() {
      await env.stop();
      await idp.stop();
    },
  };
}
