// Cookie and bearer parsing, and JWT verification input: the token handed on is the one in the header; only our own errors; only our own tokens verify.

import { randomBytes } from 'node:crypto';
import { GatewayError } from '../../../src/errors.js';
import { readCookie } from '../../../src/http/cookies.js';
import { sessionTokenOf } from '../../../src/http/authenticate.js';
import { SessionService } from '../../../src/identity/sessions.js';
import { MemoryStore } from '../../../src/state/memory-store.js';
import { NO_PEER_CERTIFICATE } from '../../../src/tls/peer-identity.js';
import { must, type FuzzTarget } from '../engine/target.js';

const COOKIE = '__Host-pacs-session';

export const credentialsTarget: FuzzTarget = {
  name: 'cookies-bearer',
  about: 'src/http/cookies.ts readCookie and authenticate.ts sessionTokenOf over a sequence of requests (the last-bearer cache included): ERR_UNAUTHENTICATED or a token that is exactly what the header carries',
  files: ['src/http/cookies', 'src/http/authenticate'],
  maxLength: 2048,
  dictionary: ['Bearer ', 'bearer ', `${COOKIE}=`, '; ', ';', '=', ' ', '\t', '\xa0', '\n', 'a.b.c', 'eyJ.eyJ.sig', '..', 'Basic ', ','],
  seeds: () => [`Bearer eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJ4In0.c2lnbmF0dXJl\n${COOKIE}=tok.en.value; theme=dark\nBearer a.b.c\nBearer a.b.c`, `theme=dark; ${COOKIE}=x.y.z\n${COOKIE}=1; ${COOKIE}=2`].map((s) => Buffer.from(s, 'latin1')),
  run(input) {
    // Each line is one request: lines starting with "Bearer"/"bearer" or anything else alternate between Authorization and Cookie.
    const lines = input.toString('latin1').split('\n');
    lines.forEach((line, i) => {
      const asAuth = i % 2 === 0;
      const req = { authorization: asAuth ? line : undefined, cookie: asAuth ? undefined : line, ip: '127.0.0.1', tls: NO_PEER_CERTIFICATE };
      let got: ReturnType<typeof sessionTokenOf>;
      try {
        got = sessionTokenOf(req, COOKIE);
      } catch (err) {
        must(asAuth && err instanceof GatewayError && err.code === 'ERR_UNAUTHENTICATED', `sessionTokenOf threw ${String(err)}`);
        return;
      }
      if (asAuth) {
        must(got !== undefined && got.method === 'bearer-token' && line === `Bearer ${got.token}`, `Authorization ${JSON.stringify(line)} gave token ${JSON.stringify(got?.token)}`);
        must(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(got.token), 'a bearer token outside the JWS compact syntax');
        return;
      }
      const value = readCookie(line, COOKIE);
      const named = line.split(';').filter((p) => p.includes('=') && p.slice(0, p.indexOf('=')).trim() === COOKIE);
      if (named.length !== 1) must(value === undefined, `an ambiguous Cookie header (${named.length} session cookies) gave a value`);
      else must(value !== undefined && line.includes(value), 'the cookie value is not in the header');
      must(got === undefined || (got.method === 'session-cookie' && got.token === value && value !== ''), 'sessionTokenOf disagrees with readCookie');
    });
  },
};

const store = new MemoryStore();
const clock = (): number => 1_800_000_000_000;
const key = randomBytes(32);
const sessions = new SessionService({ store, clock, signingKey: key, idleMs: 3_600_000, maxMs: 7_200_000, dimseTokenMs: 600_000 });
const other = new SessionService({ store: new MemoryStore(), clock, signingKey: randomBytes(32), idleMs: 3_600_000, maxMs: 7_200_000, dimseTokenMs: 600_000 });
let valid: { session: string; dimse: string; sid: string; jti: string } | undefined;
const seedTokens: Buffer[] = [];

export const jwtTarget: FuzzTarget = {
  name: 'jwt',
  about: 'src/identity/sessions.ts verify / verifyDimseToken on token strings (jose underneath): only ERR_UNAUTHENTICATED / ERR_SESSION_EXPIRED; only the tokens the gateway issued verify, each for its own audience only',
  files: ['src/identity/sessions'],
  maxLength: 2048,
  dictionary: ['.', 'eyJhbGciOiJub25lIn0', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9', 'eyJhbGciOiJSUzI1NiJ9', '=', '+', '/', 'AAAA', '\0'],
  async setup() {
    const rita = { username: 'rita', passwordHash: 'not-checked-here', totpSecret: 'NOTCHECKED' };
    const s = await sessions.create(rita, '127.0.0.1');
    const record = await sessions.verify(s.token);
    const d = await sessions.issueDimseToken(record);
    const foreign = await other.create(rita, '127.0.0.1');
    valid = { session: s.token, dimse: d.token, sid: s.sid, jti: d.id };
    seedTokens.push(...[s.token, d.token, foreign.token].map((t) => Buffer.from(t, 'latin1')));
  },
  seeds: () => seedTokens,
  async run(input) {
    const token = input.toString('latin1');
    const v = valid as NonNullable<typeof valid>;
    let record: { sid: string } | undefined;
    try { record = await sessions.verify(token); } catch (err) { if (!(err instanceof Error && 'code' in err && ['ERR_UNAUTHENTICATED', 'ERR_SESSION_EXPIRED'].includes(String(err.code)))) throw err; }
    if (record !== undefined) must(record.sid === v.sid && token.split('.').length === 3, `a token that is not the issued session token verified (${JSON.stringify(token.slice(0, 80))})`);
    let dimse: { jti: string } | undefined;
    try { dimse = (await sessions.verifyDimseToken(token)).token; } catch (err) { if (!(err instanceof Error && 'code' in err && ['ERR_UNAUTHENTICATED', 'ERR_SESSION_EXPIRED'].includes(String(err.code)))) throw err; }
    if (dimse !== undefined) must(dimse.jti === v.jti, 'a token that is not the issued DIMSE token verified as one');
    must(!(record !== undefined && dimse !== undefined), 'one token verified for both audiences');
  },
};
