// HTTP/2 control-plane requests reuse in-process connections per session (control-plane-agents.ts), and
// the attack that pooling invites: behind a trusted proxy, one HTTP/2 session carries several clients;
// a pooled connection must never hand one client's address to another's request (the login lockout,
// the audit trail and the login rate limit key on it).

import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { h2Session } from '../helpers/h2.js';

const JSON_BODY = { 'content-type': 'application/json' };

t.test('behind a trusted proxy: each request keeps its own client address on a shared session', async (t) => {
  const gw = await startGateway({ config: { http: { trustProxy: true } } });
  t.teardown(() => gw.stop());
  const h2 = await h2Session(gw.httpsPort, gw.caPem);
  t.teardown(() => h2.close());
  const addresses = ['192.0.2.11', '198.51.100.22', '203.0.113.33'];
  // Interleaved and at once, several rounds: pooled connections are reused across addresses' turns.
  for (let round = 0; round < 3; round++) {
    const answers = await Promise.all(addresses.map((a, i) => h2.request('POST', '/auth/login', {
      headers: { ...JSON_BODY, 'x-forwarded-for': `10.9.9.9, ${a}` },
      body: JSON.stringify({ username: `nobody${i}`, password: 'wrong-password-1', totp: '000000' }),
    })));
    for (const r of answers) t.equal(r.status, 401, `round ${round + 1}: refused`);
  }
  const logins = gw.auditEvents('auth.login').filter((e) => e.decision === 'deny');
  t.equal(logins.length, 9, 'nine refusals audited');
  for (const [i, a] of addresses.entries()) {
    const mine = logins.filter((e) => e.principal === `nobody${i}`);
    t.equal(mine.length, 3, `nobody${i}: three attempts`);
    t.ok(mine.every((e) => e.source === a), `nobody${i}: every attempt audited from ${a}, never another client's address`);
  }
  // Sequential requests on the same session still work (connections go back to the pool and come out again).
  for (let i = 0; i < 20; i++) t.equal((await h2.request('GET', '/healthz')).status, 200, `healthz ${i + 1}`);
});

t.test('without a proxy: many control-plane requests at once on one session, every one answered', async (t) => {
  const gw = await startGateway({});
  t.teardown(() => gw.stop());
  const h2 = await h2Session(gw.httpsPort, gw.caPem);
  t.teardown(() => h2.close());
  // More at once than the pool's 16 connections: the rest wait their turn, none is lost.
  const answers = await Promise.all(Array.from({ length: 60 }, () => h2.request('GET', '/healthz')));
  t.equal(answers.filter((r) => r.status === 200).length, 60, 'sixty answers');
  const after = await h2.request('GET', '/login');
  t.equal(after.status, 200, 'the login page after the burst');
  t.match(after.headers['content-type'], /text\/html/);
});
