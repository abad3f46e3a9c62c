// auth.local: false (sign-in through the IdP only) against every way a local password could still get
// in: DICOM user identity type 2 (dcmtk --user/--password, the right password and code), the enrolment
// link that would set one. Each is refused in its protocol's terms, audited, and no password is checked
// (nothing is counted towards a lockout). An IdP user's DIMSE token (type 5) and mTLS devices still work.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { findInstanceId } from '../helpers/orthanc.js';
import { makeInstance, writeInstance } from '../helpers/instances.js';
import { startGateway, redisStateConfig } from '../helpers/gateway.js';
import { SESSION_COOKIE, startOidcEnv } from '../helpers/oidc-env.js';
import { freePort } from '../helpers/ports.js';
import { startRedis } from '../helpers/redis.js';
import { GATEWAY_BIN } from '../helpers/replica.js';
import { run } from '../helpers/tools.js';

const USER_MAX_FAILURES = 3;

t.test('auth.local: false', async (t) => {
  const o = await startOidcEnv({
    local: false,
    config: { lockout: { userMaxFailures: USER_MAX_FAILURES, addressMaxFailures: 50, windowMinutes: 15, lockMinutes: 15 } },
  });
  t.teardown(() => o.stop());
  const { env } = o;
  const { gw, orthanc } = env;
  const peer = ['127.0.0.1', String(env.port)];
  const theo = await gw.addUser('theo', 'technologist');

  await t.test('DICOM user identity type 2 is refused with A-ASSOCIATE-RJ, even with the right password and code; no password is checked', async (t) => {
    const before = await orthanc.activity();
    const file = await writeInstance(env.dir, makeInstance());
    const storescu = async (passcode: string) => run('storescu', [...env.tls(), '--user', 'theo', '--password', passcode, '-aet', 'WS1', '-aec', 'GATEWAY', ...peer, file]);
    const right = await storescu(await env.passcode(theo));
    t.not(right.code, 0, 'the right password and code do not admit');
    // The refusal of a bad credential (README "DICOM errors"): rejected-permanent, service user, no reason given.
    t.match(right.stderr + right.stdout, /Association Rejected/);
    t.match(right.stderr + right.stdout, /Result: Rejected Permanent, Source: Service User\s+\S+ Reason: No Reason/);
    // More attempts than a lockout allows, wrong passwords among them: none is counted, none is checked.
    for (let i = 0; i <= USER_MAX_FAILURES; i++) {
      const wrong = await storescu(`not-the-password-${i}000000`);
      t.not(wrong.code, 0);
    }
    const short = await storescu('x'); // too short to hold a code: refused for the same reason, not as malformed
    t.not(short.code, 0);
    const again = await storescu(await env.passcode(theo));
    t.match(again.stderr + again.stdout, /Result: Rejected Permanent, Source: Service User\s+\S+ Reason: No Reason/, 'still the same refusal, not a lockout (transient)');
    const after = await orthanc.activity();
    t.equal(after.dicomConnections, before.dicomConnections, 'Orthanc saw no connection');

    const logins = gw.auditEvents('auth.login').filter((e) => e.channel === 'dicom');
    t.equal(logins.length, USER_MAX_FAILURES + 4, 'one auth.login event per attempt');
    t.ok(logins.every((e) => e.decision === 'deny' && e.reason === 'local-login-disabled' && e.principal === 'theo' && e.method === 'password+totp'), 'each: deny, local-login-disabled');
    t.ok(logins.every((e) => typeof e.associationId === 'string' && e.callingAe === 'WS1'), 'with the association');
    const reasons = gw.auditEvents().map((e) => e.reason);
    t.notOk(reasons.some((r) => /wrong-password|wrong-totp|locked-out|password-and-totp-valid/.test(String(r))), 'the password and code were never checked, nothing was counted');
    const assoc = gw.auditEvents('dicom.association').filter((e) => e.decision === 'deny');
    t.ok(assoc.length >= USER_MAX_FAILURES + 4);
    t.ok(assoc.every((e) => e.reason === 'local-login-disabled' && e.refusal === 'bad-credentials' && e.userIdentityType === 2), 'dicom.association: deny with the reason');
    t.notMatch(gw.rawLogs.join('\n'), theo.password, 'the password is never logged');
  });

  await t.test('an IdP user\'s DIMSE token (type 5) still stores through the gateway', async (t) => {
    const r = await o.signIn('u-tess');
    t.ok(r.session, r.callback.text.slice(-300));
    const issued = await gw.request('POST', '/auth/dimse-token', { headers: { cookie: `${SESSION_COOKIE}=${r.session}` } });
    t.equal(issued.status, 200);
    const jwtFile = join(env.dir, 'tess.jwt');
    writeFileSync(jwtFile, (issued.json() as { token: string }).token, { mode: 0o600 });
    const inst = makeInstance();
    const store = await run('storescu', [...env.tls(), '--jwt', jwtFile, '-aet', 'WS1', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, inst)]);
    t.equal(store.code, 0, `storescu --jwt: ${store.stderr}`);
    t.ok(await findInstanceId(orthanc, inst.sopInstanceUid), 'the instance reached Orthanc');
  });

  await t.test('an mTLS device is unaffected', async (t) => {
    const ct = await env.addDevice('ct-1', { role: 'technologist', aeTitles: ['CT01'] });
    const echo = await run('echoscu', [...env.tls(ct), '-aet', 'CT01', '-aec', 'GATEWAY', ...peer]);
    t.equal(echo.code, 0, `echoscu: ${echo.stderr}`);
  });

  await t.test('an enrolment link (which would set a local password) is refused: 403, nothing changes', async (t) => {
    // An invite made before auth.local was turned off (the CLI refuses to make one now: see the CLI test).
    const raw = parse(readFileSync(gw.configFile, 'utf8')) as Record<string, any>;
    writeFileSync(gw.configFile, stringify({ ...raw, auth: { ...raw['auth'], local: true }, enrolment: { baseUrl: gw.url } }));
    const made = await run(process.execPath, [GATEWAY_BIN, 'users', 'invite', 'pia', '--role', 'viewer', '--json', '--config', gw.configFile], { cwd: gw.dir, timeoutMs: 60_000 });
    writeFileSync(gw.configFile, stringify({ ...raw, enrolment: { baseUrl: gw.url } }));
    t.equal(made.code, 0, made.stderr);
    await gw.gateway.reload();
    const path = new URL((JSON.parse(made.stdout) as { inviteUrl: string }).inviteUrl).pathname;
    const usersFile = readFileSync(join(gw.dir, 'config/users.yaml'), 'utf8');

    const open = await gw.request('GET', path);
    t.equal(open.status, 403);
    t.match(open.text, /Sign-in with a gateway password is turned off here/);
    const password = 'quiet meadow lantern 7';
    const chose = await gw.request('POST', `${path}/password`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ password, password2: password }).toString() });
    t.equal(chose.status, 403);
    const confirm = await gw.request('POST', `${path}/confirm`, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'totp=123456' });
    t.equal(confirm.status, 403);
    t.equal(confirm.headers['set-cookie'], undefined, 'no session');
    t.equal(readFileSync(join(gw.dir, 'config/users.yaml'), 'utf8'), usersFile, 'no password was set');
    const enrol = gw.auditEvents('auth.enrol').slice(-3);
    t.equal(enrol.length, 3);
    t.ok(enrol.every((e) => e.decision === 'deny' && e.reason === 'local-login-disabled'), 'auth.enrol: deny, local-login-disabled');
  });
});

t.test('a local session left from before auth.local: false ends at its next use there, on every replica', async (t) => {
  // Two replicas on one Redis while auth.local is being turned off: A still has it on, B has it off.
  const redis = await startRedis();
  t.teardown(() => redis.destroy());
  const shared = redisStateConfig(redis);
  const a = await startGateway({ config: shared });
  t.teardown(() => a.stop());
  const gwPort = await freePort();
  const oidc = {
    name: 'St. Elsewhere SSO', issuer: `https://localhost:${await freePort()}`, clientId: 'pacs-gateway', clientSecret: 'a-client-secret-of-some-length',
    redirectUrl: `https://127.0.0.1:${gwPort}/auth/oidc/callback`, requireMfa: { amr: ['mfa'] }, roleClaim: 'groups', roleMap: { 'pacs-viewers': 'viewer' }, timeoutMs: 1000,
  };
  const b = await startGateway({ config: { ...shared, listen: { https: { port: gwPort } }, auth: { local: false, oidc } } });
  t.teardown(() => b.stop());
  const nina = await a.addUser('nina', 'viewer');
  const cookie = `${SESSION_COOKIE}=${await a.login(nina)}`;
  t.equal((await a.request('GET', '/account', { headers: { cookie } })).status, 200, 'the session works on A (auth.local on)');
  b.clock.advance(60_000);

  const newPassword = 'a brand new passphrase 42';
  const change = await b.request('POST', '/account/password', {
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ current: nina.password, totp: await b.code(nina), password: newPassword, password2: newPassword }).toString(),
  });
  t.equal(change.status, 303, 'B: the session is over before any password is looked at');
  t.match(change.headers['location'], /^\/login\?ended=1/);
  t.notOk(b.auditEvents().some((e) => /wrong-password|wrong-totp|password-and-totp-valid/.test(String(e.reason))), 'the password was not checked');
  t.notOk(b.auditEvents('auth.account').some((e) => e.decision === 'allow'), 'no account change');

  const token = await b.request('POST', '/auth/dimse-token', { headers: { cookie } });
  t.equal(token.status, 401, 'no DIMSE token from it');
  t.equal((await a.request('GET', '/account', { headers: { cookie } })).status, 303, 'and on A, which still has auth.local on, the session is gone too');
  a.clock.advance(60_000);
  t.ok(await a.login(nina), 'the password is unchanged: nina signs in on A with it again');
});
