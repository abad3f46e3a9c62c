// auth.oidc.privateKeyJwt: the gateway authenticates to the IdP's token endpoint with a signed
// assertion (RFC 7523) instead of a client secret; a real oidc-provider checks it.

import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { exportJWK } from 'jose';
import { startGateway } from '../helpers/gateway.js';
import { cookieValue, IDP_USERS, PENDING_COOKIE, SESSION_COOKIE } from '../helpers/oidc-env.js';
import { startIdp } from '../helpers/oidc-provider.js';
import { freePort } from '../helpers/ports.js';

t.test('sign-in with private_key_jwt client authentication', async (t) => {
  const gwPort = await freePort();
  const gwUrl = `https://127.0.0.1:${gwPort}`;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const idp = await startIdp({
    users: IDP_USERS,
    client: { clientId: 'pacs-gateway', redirectUri: `${gwUrl}/auth/oidc/callback`, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'gw-1', alg: 'RS256', use: 'sig' }] } },
  });
  t.teardown(() => idp.stop());
  const gw = await startGateway({
    config: {
      listen: { https: { port: gwPort } },
      auth: {
        oidc: {
          issuer: idp.issuer, clientId: 'pacs-gateway', redirectUrl: `${gwUrl}/auth/oidc/callback`, ca: 'idp-ca.pem',
          privateKeyJwt: { key: 'oidc-client.key', kid: 'gw-1' },
          scopes: ['openid', 'profile', 'groups'], requireMfa: { amr: ['otp'] }, roleClaim: 'groups', roleMap: { 'pacs-radiologists': 'radiologist' },
        },
      },
    },
    prepare: async (dir) => {
      writeFileSync(join(dir, 'idp-ca.pem'), idp.caPem);
      writeFileSync(join(dir, 'oidc-client.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    },
  });
  t.teardown(() => gw.stop());
  const start = await gw.request('GET', '/auth/oidc/start');
  t.equal(start.status, 303);
  const back = new URL(await idp.signIn(start.headers.location as string, 'u-alice'));
  const callback = await gw.request('GET', `${back.pathname}${back.search}`, { headers: { cookie: `${PENDING_COOKIE}=${cookieValue(start, PENDING_COOKIE)}` } });
  t.equal(callback.status, 200, 'the IdP accepted the signed client assertion');
  const session = cookieValue(callback, SESSION_COOKIE);
  const who = await gw.request('GET', '/auth/session', { headers: { cookie: `${SESSION_COOKIE}=${session}` } });
  t.match(who.json(), { principal: 'alice', role: 'radiologist' });
});
