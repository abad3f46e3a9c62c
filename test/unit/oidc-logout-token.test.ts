// Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6) against jose with a JWKS
// of keys made here: every check the gateway makes refuses the token that breaks it.

import { randomBytes } from 'node:crypto';
import t from 'tap';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { BACKCHANNEL_LOGOUT_EVENT, LogoutTokenVerifier } from '../../src/identity/oidc/logout-token.js';
import { MemoryStore } from '../../src/state/memory-store.js';

const ISSUER = 'https://idp.test';
const AUD = 'pacs-gateway';

t.test('logout token checks', async (t) => {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwks = JSON.stringify({ keys: [jwk] });
  const store = new MemoryStore();
  t.teardown(() => store.close());
  const verifier = new LogoutTokenVerifier({
    keys: async () => ({ issuer: ISSUER, jwksUri: `${ISSUER}/jwks`, algorithms: ['RS256', 'HS256'] }),
    clientId: AUD,
    fetch: async () => new Response(jwks, { status: 200, headers: { 'content-type': 'application/json' } }),
    store,
  });
  const sign = (claims: JWTPayload, o: { key?: CryptoKey | Uint8Array; alg?: string; iss?: string; aud?: string; iat?: number } = {}) =>
    new SignJWT({ events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, sid: 'idp-session-1', jti: randomBytes(8).toString('hex'), ...claims })
      .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: 'k1', typ: 'logout+jwt' })
      .setIssuer(o.iss ?? ISSUER).setAudience(o.aud ?? AUD).setSubject('u-alice').setIssuedAt(o.iat ?? Math.floor(Date.now() / 1000))
      .sign(o.key ?? privateKey);

  const good = await sign({});
  t.match(await verifier.verify(good), { ok: true, target: { sub: 'u-alice', sid: 'idp-session-1' } });
  t.match(await verifier.verify(good), { ok: false, reason: /replayed/ }, 'the same jti twice');
  t.match(await verifier.verify(await sign({}, { iss: 'https://evil.test' })), { ok: false, reason: /iss/ });
  t.match(await verifier.verify(await sign({}, { aud: 'another-client' })), { ok: false, reason: /aud/ });
  t.match(await verifier.verify(await sign({}, { key: other.privateKey })), { ok: false, reason: /signature/ }, 'not the IdP\'s key');
  t.match(await verifier.verify(await sign({}, { iat: Math.floor(Date.now() / 1000) - 3600 })), { ok: false, reason: /iat|age/ }, 'an hour-old token');
  t.match(await verifier.verify(await sign({ events: { 'urn:other': {} } })), { ok: false, reason: /event/ });
  t.match(await verifier.verify(await sign({ events: undefined })), { ok: false, reason: /event/ });
  t.match(await verifier.verify(await sign({ nonce: 'n' })), { ok: false, reason: /nonce/ });
  t.match(await verifier.verify(await sign({ jti: undefined })), { ok: false, reason: /jti/ });
  const noSub = await new SignJWT({ events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, jti: 'x1' })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUD).setIssuedAt().sign(privateKey);
  t.match(await verifier.verify(noSub), { ok: false, reason: /neither sub nor sid/ });
  // HS256 keyed with the public key's bytes (the classic confusion): refused, the IdP advertised it or not.
  const hs = await sign({}, { alg: 'HS256', key: new TextEncoder().encode(jwks) });
  t.match(await verifier.verify(hs), { ok: false });
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUD, sub: 'u-alice', iat: Math.floor(Date.now() / 1000), jti: 'n1', events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })).toString('base64url')}.`;
  t.match(await verifier.verify(none), { ok: false }, 'alg none');
});
