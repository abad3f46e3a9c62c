// An admin ends an identity provider user's sessions from the gateway side (`users end-sessions`), against
// a real OpenID Provider, Orthanc and Redis: every session and DIMSE token of that user ends, an open
// association is aborted, other users are untouched, and the CLI writes an auth.session audit line.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PduType } from '../../src/dicom/constants.js';
import { redisStateConfig } from '../helpers/gateway.js';
import { makeInstance, writeInstance } from '../helpers/instances.js';
import { SESSION_COOKIE, startOidcEnv } from '../helpers/oidc-env.js';
import { RawAssociation } from '../helpers/raw-association.js';
import { startRedis } from '../helpers/redis.js';
import { GATEWAY_BIN } from '../helpers/replica.js';
import { run, waitFor, type RunResult } from '../helpers/tools.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const JWT = 5;
/** How often open associations re-check here (GatewayOptions.revalidateMs); production: 10 s. */
const RECHECK_MS = 150;

function auditLines(r: RunResult): Array<Record<string, any>> {
  return r.stderr.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const o = JSON.parse(line) as Record<string, any>;
    return o['channel'] === 'audit' ? [o] : [];
  });
}

t.test('users end-sessions ends an IdP user\'s sessions, DIMSE tokens and associations', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.destroy());
  const o = await startOidcEnv({ config: redisStateConfig(redis), gatewayOptions: { revalidateMs: RECHECK_MS } });
  t.teardown(() => o.stop());
  const { env } = o;
  const { gw } = env;
  const users = (args: string[]) => run(process.execPath, [GATEWAY_BIN, 'users', ...args, '--config', gw.configFile], { cwd: gw.dir, timeoutMs: 60_000 });
  const session = async (cookie: string | undefined) => (await gw.request('GET', '/auth/session', { headers: { cookie: `${SESSION_COOKIE}=${cookie}` } })).status;

  const first = await o.signIn('u-alice');
  const second = await o.signIn('u-alice');
  const carol = await o.signIn('u-carol');
  t.ok(first.session && second.session && carol.session, 'three IdP sessions, two of them alice\'s');
  const issued = await gw.request('POST', '/auth/dimse-token', { headers: { cookie: `${SESSION_COOKIE}=${first.session}` } });
  t.equal(issued.status, 200);
  const token = (issued.json() as { token: string }).token;
  const assoc = await RawAssociation.open({
    port: env.port, ca: env.caPem, callingAe: 'WS1',
    contexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    userIdentity: { type: JWT, positiveResponseRequested: false, primary: Buffer.from(token), secondary: Buffer.alloc(0) },
  });
  t.teardown(() => assoc.destroy());
  t.equal(await assoc.echo(1, 1), 0, 'an association of alice\'s DIMSE token works');

  const r = await users(['end-sessions', 'alice']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /the sessions of alice ended on every replica/);
  t.match(auditLines(r), [{ channel: 'audit', msg: 'auth.session', audit: { event: 'auth.session', decision: 'deny', reason: 'revoked:ended-by-admin', principal: 'alice', sessionEnded: true, source: 'cli', command: 'users end-sessions' } }]);

  t.equal(await session(first.session), 401, 'alice\'s first session has ended');
  t.equal(await session(second.session), 401, 'and her second');
  t.equal(await session(carol.session), 200, 'carol\'s goes on');
  const next = await assoc.next(5_000);
  t.equal(next.type, PduType.Abort, 'the open association gets A-ABORT at its next re-check');
  const aborted = await waitFor(() => gw.auditEvents('dicom.association').find((e) => e.principal === 'alice' && e.reason === 'principal-no-longer-valid'), 2_000).catch(() => undefined);
  t.match(aborted, { decision: 'deny', detail: /session-ended|token-revoked/ }, 'audited with why');
  const jwtFile = join(env.dir, 'alice.jwt');
  writeFileSync(jwtFile, token, { mode: 0o600 });
  const store = await run('storescu', [...env.tls(), '--jwt', jwtFile, '-aet', 'WS1', '-aec', 'GATEWAY', '127.0.0.1', String(env.port), await writeInstance(env.dir, makeInstance())]);
  t.not(store.code, 0, 'the DIMSE token no longer opens an association');
  t.match(store.stdout + store.stderr, /Association Rejected/);

  const again = await o.signIn('u-alice');
  t.equal(await session(again.session), 200, 'nothing else changed: alice may sign in at the IdP again (keep her out there)');
  const none = await users(['end-sessions', 'nobody']);
  t.equal(none.code, 0, none.stderr);
  t.match(none.stdout, /nobody had no session/);
  t.match(auditLines(none), [{ audit: { principal: 'nobody', sessionEnded: false } }]);
});

t.test('users end-sessions needs the Redis state store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-end-sessions-'));
  writeFileSync(join(dir, 'gateway.yaml'), 'users: { file: users.yaml }\n');
  const r = await run(process.execPath, [GATEWAY_BIN, 'users', 'end-sessions', 'alice', '--config', 'gateway.yaml'], { cwd: dir, timeoutMs: 60_000 });
  t.equal(r.code, 2, 'a usage error');
  t.match(r.stderr, /error \(ERR_USAGE\): users end-sessions needs state\.store: redis/);
  t.same(auditLines(r), [], 'nothing was done, nothing is audited');
});
