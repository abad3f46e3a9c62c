// Concurrent logins cannot outrun the lockout, and cannot crowd out other clients: a flood of wrong
// logins for one account, over HTTPS and over DICOM user identity, gets at most
// lockout.userMaxFailures password checks (memory and Redis); a flood over many accounts from one
// address gets ERR_BUSY / A-ASSOCIATE-RJ 2/3/1 beyond its share while another address logs in.

import t, { type Test } from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { associateWithPassword, type AssociateAnswer } from '../helpers/flood.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const json = { 'content-type': 'application/json' };
const FLOOD = 200;
const USER_MAX_FAILURES = 5;

/** The auth.login reasons of attempts whose password was actually checked (not refused before it). */
const EVALUATED = new Set(['unknown-user', 'user-disabled', 'wrong-password', 'wrong-totp', 'totp-replayed', 'password-and-totp-valid']);
const evaluated = (gw: TestGateway): Record<string, any>[] => gw.auditEvents('auth.login').filter((e) => EVALUATED.has(String(e.reason)));
const alerts = (gw: TestGateway, name: string): Record<string, any>[] => gw.logs.filter((l) => l['alert']?.name === name).map((l) => l['alert']);
const rj = (a: AssociateAnswer): string => (a.kind === 'rj' ? `rj ${a.rejection.result}/${a.rejection.source}/${a.rejection.reason}` : a.kind);

const redis = await startRedis();
t.teardown(() => redis.destroy());

for (const store of ['memory', 'redis'] as const) {
  t.test(`${store} state store`, async (t) => lockoutFloods(t, store === 'redis' ? redis : undefined));
}

function lockoutFloods(t: Test, redis: RedisServer | undefined): void {
  let gw: TestGateway;
  t.before(async () => {
    gw = await startGateway({
      ...(redis === undefined ? {} : { redis }),
      dicom: true,
      config: {
        lockout: { userMaxFailures: USER_MAX_FAILURES, addressMaxFailures: 10_000, windowMinutes: 15, lockMinutes: 15 },
        // Only the lockout bounds the checks here (the password-check line and its per-address share are tested below).
        login: { maxQueuedChecks: 1000, maxChecksPerAddress: 1000 },
        http: { maxConnectionsPerAddress: 1000 },
        dicom: { maxConnectionsPerAddress: 1000 },
      },
    });
  });
  t.teardown(() => gw.stop());
  /** The checked attempts for one account (each test floods its own). */
  const checkedFor = (username: string): Record<string, any>[] => evaluated(gw).filter((e) => e.principal === username);
  const lockAlertsFor = (username: string): Record<string, any>[] => alerts(gw, 'lockout.user').filter((a) => a['username'] === username);

  t.test(`${FLOOD} concurrent wrong HTTPS logins for one account: at most userMaxFailures passwords are checked`, async (t) => {
    const victim = await gw.addUser('victim-http', 'viewer');
    const answers = await Promise.all(Array.from({ length: FLOOD }, (_, i) => gw.request('POST', '/auth/login', {
      headers: json, body: JSON.stringify({ username: 'victim-http', password: `guess-${i}-wrong`, totp: '123456' }),
    })));
    const statuses = answers.map((a) => a.status);
    t.same([...new Set(statuses)].filter((s) => s !== 401 && s !== 429), [], 'every answer is 401 (checked) or 429 (locked out)');
    const checked = checkedFor('victim-http');
    t.ok(checked.length <= USER_MAX_FAILURES, `${checked.length} of ${FLOOD} attempts had their password checked (at most ${USER_MAX_FAILURES})`);
    t.equal(statuses.filter((s) => s === 401).length, checked.length, 'each checked attempt answered 401, the rest 429');
    t.ok(answers.filter((a) => a.status === 429).every((a) => a.json().error === 'ERR_LOCKED_OUT' && Number(a.headers['retry-after']) > 0), 'each 429 is ERR_LOCKED_OUT with Retry-After');
    t.same(answers.filter((a) => a.status === 401).map((a) => a.json().error), checked.map(() => 'ERR_LOGIN_FAILED'), 'and each 401 the one constant answer');
    t.equal(lockAlertsFor('victim-http').length, 1, 'one lockout.user alert');
    gw.clock.advance(30_000);
    const right = await gw.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username: 'victim-http', password: victim.password, totp: await gw.code(victim) }) });
    t.equal(right.status, 429, 'the account is locked: even the right password and code are refused now');
    gw.clock.advance(16 * 60_000);
    t.ok((await gw.login(victim)).length > 0, 'and after lockMinutes the right password and code log in');
  });

  t.test(`${FLOOD} concurrent DICOM associations with a wrong user identity (type 2) for one account: the same bound`, async (t) => {
    await gw.addUser('victim-dicom', 'viewer');
    const answers = await Promise.all(Array.from({ length: FLOOD }, (_, i) => associateWithPassword(gw.dicomPort, gw.caPem, { username: 'victim-dicom', passcode: `guess-${i}-wrong123456` })));
    const kinds = answers.map(rj);
    t.same([...new Set(kinds)].filter((k) => k !== 'rj 1/1/1' && k !== 'rj 2/1/1'), [], 'every answer is A-ASSOCIATE-RJ: 1/1/1 (checked, wrong) or 2/1/1 (locked out)');
    const checked = checkedFor('victim-dicom');
    t.ok(checked.length <= USER_MAX_FAILURES, `${checked.length} of ${FLOOD} associations had their password checked (at most ${USER_MAX_FAILURES})`);
    t.equal(kinds.filter((k) => k === 'rj 1/1/1').length, checked.length, 'each checked attempt got 1/1/1, the rest 2/1/1');
    t.equal(lockAlertsFor('victim-dicom').length, 1, 'one lockout.user alert');
  });

  t.test(`${FLOOD} concurrent wrong logins for one account over HTTPS and DICOM at once, its name spelled differently: one count`, async (t) => {
    await gw.addUser('victim-mixed', 'viewer');
    // The same account as the login normalises it (trimmed, lower case), alternating between the two channels.
    const spellings = ['victim-mixed', 'VICTIM-MIXED', ' Victim-Mixed', 'victim-MIXED\t'];
    const answers = await Promise.all(Array.from({ length: FLOOD }, (_, i) => {
      const username = spellings[i % spellings.length] as string;
      return i % 2 === 0
        ? gw.request('POST', '/auth/login', { headers: json, body: JSON.stringify({ username, password: `guess-${i}-wrong`, totp: '123456' }) }).then((a) => `http ${a.status}`)
        : associateWithPassword(gw.dicomPort, gw.caPem, { username, passcode: `guess-${i}-wrong123456` }).then((a) => `dicom ${rj(a)}`);
    }));
    t.same([...new Set(answers)].filter((a) => !['http 401', 'http 429', 'dicom rj 1/1/1', 'dicom rj 2/1/1'].includes(a)), [], 'only refusals: 401/429 on HTTPS, 1/1/1 / 2/1/1 on DICOM');
    const checked = checkedFor('victim-mixed');
    t.ok(checked.length <= USER_MAX_FAILURES, `${checked.length} of ${FLOOD} attempts had their password checked (at most ${USER_MAX_FAILURES})`);
    t.equal(answers.filter((a) => a === 'http 401' || a === 'dicom rj 1/1/1').length, checked.length, 'each checked attempt was refused as wrong, the rest as locked out');
    t.ok(answers.includes('dicom rj 2/1/1') && answers.includes('http 429'), 'both channels met the one lock');
    t.equal(lockAlertsFor('victim-mixed').length, 1, 'one lockout.user alert');
  });
}

t.test('a flood over many accounts from one address gets ERR_BUSY beyond its share; another address logs in meanwhile', async (t) => {
  // Defaults for the password-check line: 2 at once, 32 waiting, 4 per address.
  const gw = await startGateway({ dicom: true, config: { lockout: { userMaxFailures: 10, addressMaxFailures: 10_000, windowMinutes: 15, lockMinutes: 15 } } });
  t.teardown(() => gw.stop());
  const clinician = await gw.addUser('clinician', 'radiologist');
  gw.clock.advance(30_000);
  const code = await gw.code(clinician);
  const flood = Promise.all(Array.from({ length: FLOOD }, (_, i) => gw.request('POST', '/auth/login', {
    headers: json, body: JSON.stringify({ username: `spray-${i}`, password: 'Winter2026!', totp: '123456' }),
  })));
  const legit = await gw.request('POST', '/auth/login', {
    localAddress: '127.0.0.2', headers: json, body: JSON.stringify({ username: 'clinician', password: clinician.password, totp: code }),
  });
  t.equal(legit.status, 200, 'a clinician at another address logs in during the flood');
  const answers = await flood;
  const statuses = answers.map((a) => a.status);
  t.same([...new Set(statuses)].filter((s) => s !== 401 && s !== 503), [], 'the flood gets 401 (checked) or 503 (busy)');
  const busy = answers.filter((a) => a.status === 503);
  t.ok(busy.length > 0, `${busy.length} of ${FLOOD} were refused as busy`);
  t.ok(busy.every((a) => a.json().error === 'ERR_BUSY' && Number(a.headers['retry-after']) >= 1), 'each 503 is ERR_BUSY with Retry-After');
  const events = gw.auditEvents('auth.login').filter((e) => e.source === '127.0.0.1');
  t.equal(events.filter((e) => e.reason === 'busy').length, busy.length, 'one auth.login deny event (reason busy) per refusal');
  t.equal(events.filter((e) => EVALUATED.has(String(e.reason))).length, FLOOD - busy.length, 'the others were checked');
  const alert = alerts(gw, 'login.busy')[0];
  t.match(alert, { source: '127.0.0.1', addressKey: '127.0.0.1', reason: 'source-share-full' }, 'a login.busy alert names the source');

  // The same over DICOM: a busy refusal is A-ASSOCIATE-RJ 2/3/1 (transient, temporary congestion).
  const dicom = await Promise.all(Array.from({ length: 60 }, (_, i) => associateWithPassword(gw.dicomPort, gw.caPem, { username: `spray-${i}`, passcode: 'Winter2026!123456' })));
  const kinds = dicom.map(rj);
  t.same([...new Set(kinds)].filter((k) => k !== 'rj 1/1/1' && k !== 'rj 2/3/1'), [], 'DICOM: 1/1/1 (checked) or 2/3/1 (busy)');
  t.ok(kinds.includes('rj 2/3/1'), `${kinds.filter((k) => k === 'rj 2/3/1').length} of 60 associations were refused as busy`);
  t.ok(gw.auditEvents('dicom.association').some((e) => e.reason === 'busy'), 'the association event says busy');
});
