// `users invite` and `users reset-totp --invite` as an admin runs them: each new enrolment link is an
// auth.enrol audit line (the gateway's JSON format, on stderr: stdout stays the command's answer) that
// names the user and the CLI and never holds the token or the link; with auth.local: false none is made,
// and neither is any other credential only a password sign-in uses (users add, set-password, reset-totp).

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { run, type RunResult } from '../helpers/tools.js';

const BIN = join(process.cwd(), 'bin/pacs-gateway.js');
const cli = (dir: string, args: string[]) => run(process.execPath, [BIN, 'users', ...args, '--config', 'gateway.yaml'], { cwd: dir, timeoutMs: 60_000 });

function workspace(config: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-cli-invite-'));
  writeFileSync(join(dir, 'gateway.yaml'), `users: { file: users.yaml }\nenrolment: { baseUrl: https://pacs.example.org }\n${config}`);
  return dir;
}

/** The audit lines a run wrote (JSON lines with channel audit), from stdout and stderr. */
function auditLines(r: RunResult): Array<Record<string, any>> {
  return `${r.stdout}\n${r.stderr}`.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const o = JSON.parse(line) as Record<string, any>;
    return o['channel'] === 'audit' ? [o] : [];
  });
}

function occurrences(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

function tokenOf(url: string): string {
  const token = new URL(url).pathname.replace('/enrol/', '');
  if (!/^[A-Za-z0-9_-]{22,}$/.test(token)) throw new Error(`not an enrolment link: ${url}`);
  return token;
}

/** The link is printed once, for the admin to send; the token is nowhere else, the audit line least of all. */
function tokenOnlyInTheLink(t: Test, r: RunResult, link: string): void {
  const token = tokenOf(link);
  t.equal(occurrences(r.stdout, token), 1, 'the token is on stdout once: in the link the admin sends');
  t.equal(occurrences(r.stdout, link), 1, 'inside that link');
  t.equal(occurrences(r.stderr, token), 0, 'the token is not on stderr');
  for (const line of auditLines(r)) t.notOk(JSON.stringify(line).includes(token), 'not in the audit line');
}

t.test('users invite writes an auth.enrol audit line without the token', async (t) => {
  const dir = workspace('');
  const r = await cli(dir, ['invite', 'nora', '--role', 'technologist', '--email', 'nora@example.org', '--json']);
  t.equal(r.code, 0, r.stderr);
  const answer = JSON.parse(r.stdout) as { username: string; inviteUrl: string; expiresAt: string };
  t.same(Object.keys(answer), ['username', 'role', 'inviteUrl', 'expiresAt'], '--json prints the one object, as before');
  const lines = auditLines(r);
  t.equal(lines.length, 1, 'one audit line');
  const [line] = lines;
  t.match(line, { level: 'info', service: 'pacs-gateway', channel: 'audit', msg: 'auth.enrol', time: /^\d{4}-\d\d-\d\dT/ }, 'the gateway\'s audit line format');
  t.match(line?.['audit'], {
    event: 'auth.enrol', decision: 'allow', reason: 'invite-created', principal: 'nora', role: 'technologist',
    source: 'cli', command: 'users invite', expiresAt: answer.expiresAt,
  });
  t.notOk(JSON.stringify(line).includes('nora@example.org'), 'no e-mail address in the trail');
  tokenOnlyInTheLink(t, r, answer.inviteUrl);

  const text = await cli(dir, ['invite', 'omar', '--role', 'viewer']);
  t.equal(text.code, 0, text.stderr);
  const link = /https:\/\/pacs\.example\.org\/enrol\/[A-Za-z0-9_-]+/.exec(text.stdout)?.[0] ?? '';
  t.match(auditLines(text), [{ audit: { event: 'auth.enrol', decision: 'allow', reason: 'invite-created', principal: 'omar', role: 'viewer', source: 'cli' } }]);
  tokenOnlyInTheLink(t, text, link);

  const again = await cli(dir, ['reset-totp', 'nora', '--invite', '--json']);
  t.equal(again.code, 0, again.stderr);
  const re = JSON.parse(again.stdout) as { inviteUrl: string };
  t.match(auditLines(again), [{ audit: { event: 'auth.enrol', decision: 'allow', reason: 'invite-created', principal: 'nora', source: 'cli', command: 'users reset-totp --invite' } }]);
  tokenOnlyInTheLink(t, again, re.inviteUrl);

  const refused = await cli(dir, ['invite', 'nora', '--role', 'viewer']);
  t.equal(refused.code, 1, 'an existing user');
  t.match(auditLines(refused), [{ audit: { event: 'auth.enrol', decision: 'deny', reason: 'user-exists', principal: 'nora', source: 'cli', command: 'users invite' } }], 'no link: the refusal with its reason, no invite-created line');
  t.equal(auditLines(refused).length, 1);
});

t.test('auth.local: false: no link is made (audited, exit 1)', async (t) => {
  const dir = workspace([
    'auth:',
    '  local: false',
    '  oidc:',
    '    { name: SSO, issuer: "https://idp.example.org", clientId: pacs-gateway, clientSecret: a-client-secret-of-some-length,',
    '      redirectUrl: "https://pacs.example.org/auth/oidc/callback", requireMfa: { amr: [mfa] }, roleClaim: groups, roleMap: { pacs-viewers: viewer } }',
    '',
  ].join('\n'));
  const r = await cli(dir, ['invite', 'nora', '--role', 'viewer', '--json']);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /error \(ERR_LOCAL_LOGIN_DISABLED\): auth\.local is false/);
  t.equal(r.stdout, '', 'no link');
  t.match(auditLines(r), [{ audit: { event: 'auth.enrol', decision: 'deny', reason: 'local-login-disabled', principal: 'nora', source: 'cli', command: 'users invite' } }]);
  let users = '';
  try { users = readFileSync(join(dir, 'users.yaml'), 'utf8'); } catch { /* never written */ }
  t.notMatch(users, /nora/, 'no pending user');

  // Nor any other credential of a password sign-in: a local record would also keep the auth.oidc user
  // of that name out. Each is refused before a password is read or a user looked up.
  const cases: readonly [readonly string[], string, string][] = [
    [['add', 'olga', '--role', 'viewer', '--password-stdin'], 'users add', 'auth.enrol'],
    [['add', 'olga', '--source', 'ldap'], 'users add', 'auth.enrol'],
    [['set-password', 'olga', '--password-stdin'], 'users set-password', 'auth.account'],
    [['reset-totp', 'olga'], 'users reset-totp', 'auth.account'],
    [['reset-totp', 'olga', '--invite'], 'users reset-totp --invite', 'auth.enrol'],
  ];
  for (const [args, command, event] of cases) {
    const x = await cli(dir, [...args]);
    t.equal(x.code, 1, `${args.join(' ')}: exit 1`);
    t.match(x.stderr, /error \(ERR_LOCAL_LOGIN_DISABLED\): auth\.local is false: users sign in through auth\.oidc only/, `${args.join(' ')}: the reason`);
    t.equal(x.stdout, '', `${args.join(' ')}: nothing printed (no secret, no link)`);
    t.match(auditLines(x), [{ audit: { event, decision: 'deny', reason: 'local-login-disabled', principal: 'olga', source: 'cli', command } }], `${args.join(' ')}: audited`);
  }
  try { users = readFileSync(join(dir, 'users.yaml'), 'utf8'); } catch { users = ''; }
  t.notMatch(users, /olga/, 'no user was made');
});
