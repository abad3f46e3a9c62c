// The admin CLI's audit trail: every `users …` and `certs …` command that changes who can get in writes one
// JSON audit line (stderr) and, with audit.syslog in its config, sends one DICOM Security Alert to a real
// rsyslog over RFC 5425 mutual TLS before it exits: the acting OS user, the user or certificate serial it
// changed, the outcome; never a password, TOTP secret, invite token, private key or PKCS#12 password.
// A receiver that is down, or that accepts TCP and never answers, gets a warning, not a hang; the change stands.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { startRedis } from '../helpers/redis.js';
import { startSyslogReceiver, type SyslogReceiver } from '../helpers/rsyslog.js';
import { freePort } from '../helpers/ports.js';
import { run, waitFor, type RunResult } from '../helpers/tools.js';
import { kids, parseXml, type XmlElement } from '../helpers/xml.js';

const BIN = join(process.cwd(), 'bin/pacs-gateway.js');
const SCHEMA = join(process.cwd(), 'test/fixtures/dicom-audit-message.rng');
const OS_USER = userInfo().username;

const cli = (dir: string, args: readonly string[], input?: string): Promise<RunResult> =>
  run(process.execPath, [BIN, ...args, '--config', 'gateway.yaml'], { cwd: dir, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });

async function ok(t: Test, dir: string, args: readonly string[], input?: string): Promise<RunResult> {
  const r = await cli(dir, args, input);
  t.equal(r.code, 0, `${args.join(' ')}: exit 0 ${r.stderr}`);
  return r;
}

function workspace(extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-cli-atna-'));
  writeFileSync(join(dir, 'gateway.yaml'), [
    'users: { file: users.yaml }',
    'devices: { file: devices.yaml }',
    'tls: { cert: certs/server.crt, key: certs/server.key, clientCa: certs/ca.crt }',
    'enrolment: { baseUrl: https://pacs.example.org }',
    extra,
  ].join('\n'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const syslogConfig = (r: SyslogReceiver, port = r.port): string =>
  `audit: { sourceId: pacs-gw-cli-test, syslog: [{ host: 127.0.0.1, port: ${port}, servername: localhost, ca: ${r.client.ca}, cert: ${r.client.cert}, key: ${r.client.key} }] }`;

/** The audit lines of a run (JSON lines with channel audit on stderr). */
function auditLines(r: RunResult): Array<Record<string, any>> {
  return r.stderr.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    const o = JSON.parse(line) as Record<string, any>;
    return o['channel'] === 'audit' ? [o['audit'] as Record<string, any>] : [];
  });
}

interface Alert { readonly raw: string; readonly xml: string; readonly doc: XmlElement }

function parseSyslog(line: string): Alert {
  const m = /^<85>1 \S+ \S+ pacs-gateway \d+ IHE\+RFC-3881 - \ufeff?(<\?xml[\s\S]*)$/.exec(line);
  if (m === null) throw new Error(`not an RFC 5424 ATNA message: ${line.slice(0, 120)}`);
  return { raw: line, xml: m[1] as string, doc: parseXml(m[1] as string) };
}

const ident = (a: Alert): XmlElement => kids(a.doc, 'EventIdentification')[0] as XmlElement;
const code = (e: XmlElement, name: string): string[] => kids(e, name).map((c) => c.attrs['csd-code'] as string);
const description = (a: Alert): string => kids(ident(a), 'EventOutcomeDescription')[0]?.text ?? '';
const objects = (a: Alert): XmlElement[] => kids(a.doc, 'ParticipantObjectIdentification');
const detail = (o: XmlElement): Record<string, any> => JSON.parse(Buffer.from(kids(o, 'ParticipantObjectDetail')[0]?.attrs['value'] ?? '', 'base64').toString('utf8')) as Record<string, any>;

/** Checks the Security Alert of one command; returns its objects. */
function checkAlert(t: Test, a: Alert | undefined, o: { command: string; type: '110137' | '110129'; outcome: '0' | '4'; objectIds: readonly string[] }): XmlElement[] {
  if (a === undefined) { t.fail(`no Security Alert for ${o.command}`); return []; }
  const e = ident(a);
  t.same(code(e, 'EventID'), ['110113'], `${o.command}: Security Alert`);
  t.same(code(e, 'EventTypeCode'), [o.type], `${o.command}: event type ${o.type}`);
  t.match(e.attrs, { EventActionCode: 'E', EventOutcomeIndicator: o.outcome }, `${o.command}: outcome ${o.outcome}`);
  const [person, process] = kids(a.doc, 'ActiveParticipant');
  t.match(person?.attrs, { UserID: OS_USER, UserName: 'cli', UserIsRequestor: 'true' }, `${o.command}: the OS user ran it`);
  t.match(process?.attrs, { UserID: 'pacs-gw-cli-test', UserName: `pacs-gateway ${o.command}`, UserIsRequestor: 'false' }, `${o.command}: the CLI process`);
  t.equal(kids(a.doc, 'AuditSourceIdentification')[0]?.attrs['AuditSourceID'], 'pacs-gw-cli-test');
  const objs = objects(a);
  t.same(objs.map((x) => x.attrs['ParticipantObjectID']), o.objectIds, `${o.command}: the object`);
  for (const x of objs) t.match(detail(x), { command: o.command, source: 'cli', osUser: OS_USER }, `${o.command}: the audit event as Alert Description`);
  return objs;
}

t.test('each changing command sends one Security Alert to rsyslog, with its JSON audit line, and no secret', async (t) => {
  const receiver = await startSyslogReceiver();
  t.teardown(() => receiver.destroy());
  const dir = workspace(syslogConfig(receiver));
  const secrets: string[] = [];
  const sent: RunResult[] = [];
  const go = async (args: readonly string[], input?: string, code = 0): Promise<RunResult> => {
    const r = await cli(dir, args, input);
    t.equal(r.code, code, `${args.join(' ')}: exit ${code} ${r.stderr}`);
    t.notMatch(r.stderr, /warning/, `${args.join(' ')}: delivered, no warning`);
    const lines = auditLines(r);
    t.equal(lines.length, 1, `${args.join(' ')}: one JSON audit line`);
    t.same(lines[0]?.['syslog'], [{ destination: `127.0.0.1:${receiver.port}`, delivered: true }], `${args.join(' ')}: the line says the receiver took it`);
    sent.push(r);
    return r;
  };

  // certs: the CA, the server certificate, a device certificate, its renewal and revocation.
  const init = await go(['certs', 'init']);
  const caSerial = auditLines(init)[0]?.['serials']?.[0]?.serial as string;
  const server = JSON.parse((await go(['certs', 'issue-server', '--dns', 'localhost', '--ip', '127.0.0.1', '--json'])).stdout) as { serial: string };
  const issued = JSON.parse((await go(['certs', 'issue-client', 'ws1', '--role', 'radiologist', '--ae', 'WS1', '--json'])).stdout) as { serial: string; pkcs12: { password: string } };
  secrets.push(issued.pkcs12.password);
  const renewed = JSON.parse((await go(['certs', 'renew', 'ws1', '--json'])).stdout) as { serial: string; revokedSerial: string; pkcs12: { password: string } };
  secrets.push(renewed.pkcs12.password);
  await go(['certs', 'revoke', 'ws1', '--reason', 'key-compromise']);
  await go(['certs', 'issue-client', 'ws2', '--role', 'janitor', '--ae', 'WS2'], undefined, 1);
  for (const f of ['certs/ca.key', 'certs/server.key', ...readdirSync(join(dir, 'certs/devices')).filter((n) => n.endsWith('.key')).map((n) => `certs/devices/${n}`)]) {
    secrets.push(readFileSync(join(dir, f), 'utf8').split('\n').slice(1, 3).join(''));
  }

  // users: add, set-password, reset-totp, set-ae, disable, enable, invite, revoke-invite, reset-totp --invite.
  const added = JSON.parse((await go(['users', 'add', 'alice', '--role', 'viewer', '--password-stdin', '--json'], 'Blue-harbour-pw-31\n')).stdout) as { totpSecret: string };
  secrets.push('Blue-harbour-pw-31', added.totpSecret);
  await go(['users', 'add', 'alice', '--role', 'viewer', '--password-stdin'], 'Green-meadow-pw-32\n', 1);
  secrets.push('Green-meadow-pw-32');
  await go(['users', 'set-password', 'alice', '--password-stdin'], 'Red-lantern-pw-33\n');
  secrets.push('Red-lantern-pw-33');
  secrets.push((JSON.parse((await go(['users', 'reset-totp', 'alice', '--json'])).stdout) as { totpSecret: string }).totpSecret);
  await go(['users', 'set-ae', 'alice', '--ae', 'WS1']);
  await go(['users', 'disable', 'alice']);
  await go(['users', 'enable', 'alice']);
  const invite = JSON.parse((await go(['users', 'invite', 'bob', '--role', 'viewer', '--json'])).stdout) as { inviteUrl: string };
  secrets.push(new URL(invite.inviteUrl).pathname.replace('/enrol/', ''));
  await go(['users', 'revoke-invite', 'bob']);
  const reinvite = JSON.parse((await go(['users', 'reset-totp', 'alice', '--invite', '--json'])).stdout) as { inviteUrl: string };
  secrets.push(new URL(reinvite.inviteUrl).pathname.replace('/enrol/', ''));
  const usage = await cli(dir, ['users', 'end-sessions', 'alice']); // needs state.store: redis
  t.equal(usage.code, 2, 'a usage error');
  t.same(auditLines(usage), [], 'attempted nothing: no audit line, no message');
  t.ok(secrets.every((s) => s.length >= 8), 'the secrets to look for');

  await waitFor(() => receiver.messages().length >= sent.length, 20_000);
  const alerts = receiver.messages().map(parseSyslog);
  t.equal(alerts.length, sent.length, 'one message per command');
  const of = (command: string, outcome = '0'): Alert | undefined => alerts.find((a) => objects(a).some((o) => detail(o)['command'] === command) && ident(a).attrs['EventOutcomeIndicator'] === outcome);

  checkAlert(t, of('certs init'), { command: 'certs init', type: '110129', outcome: '0', objectIds: [caSerial] });
  t.match(caSerial, /^[0-9A-F]+$/i, 'the CA serial');
  checkAlert(t, of('certs issue-server'), { command: 'certs issue-server', type: '110129', outcome: '0', objectIds: [server.serial] });
  const client = checkAlert(t, of('certs issue-client'), { command: 'certs issue-client', type: '110129', outcome: '0', objectIds: [issued.serial] });
  t.match(client[0]?.attrs, { ParticipantObjectTypeCode: '2', ParticipantObjectTypeCodeRole: '13' }, 'a certificate: system object, security resource');
  t.same(code(client[0] as XmlElement, 'ParticipantObjectIDTypeCode'), ['X509-SERIAL']);
  t.equal(kids(client[0] as XmlElement, 'ParticipantObjectName')[0]?.text, 'ws1', 'named by its device');
  checkAlert(t, of('certs renew'), { command: 'certs renew', type: '110129', outcome: '0', objectIds: [renewed.serial, renewed.revokedSerial] });
  t.equal(renewed.revokedSerial, issued.serial, 'the old certificate is the one revoked');
  const revoked = checkAlert(t, of('certs revoke'), { command: 'certs revoke', type: '110129', outcome: '0', objectIds: [renewed.serial] });
  t.match(detail(revoked[0] as XmlElement), { event: 'cert.revoked', reason: 'key-compromise', device: 'ws1' });
  const refusedDevice = checkAlert(t, of('certs issue-client', '4'), { command: 'certs issue-client', type: '110129', outcome: '4', objectIds: ['ws2'] });
  t.same(code(refusedDevice[0] as XmlElement, 'ParticipantObjectIDTypeCode'), ['113877'], 'a device without a certificate: Device Name');
  t.match(description(of('certs issue-client', '4') as Alert), /^certs issue-client: refused: /, 'the reason');

  for (const [command, reason] of [
    ['users add', 'user-added'], ['users set-password', 'password-changed'], ['users reset-totp', 'totp-reset'], ['users set-ae', 'ae-titles-changed'],
    ['users disable', 'user-disabled'], ['users enable', 'user-enabled'], ['users reset-totp --invite', 'invite-created'],
  ] as const) {
    const objs = checkAlert(t, of(command), { command, type: '110137', outcome: '0', objectIds: ['alice'] });
    t.match(objs[0]?.attrs, { ParticipantObjectTypeCode: '1', ParticipantObjectTypeCodeRole: '11' }, `${command}: a user: person, security user entity`);
    t.same(code(objs[0] as XmlElement, 'ParticipantObjectIDTypeCode'), ['11'], `${command}: User Identifier`);
    t.equal(description(of(command) as Alert), `${command}: ${reason}`, `${command}: what was done`);
  }
  checkAlert(t, of('users invite'), { command: 'users invite', type: '110137', outcome: '0', objectIds: ['bob'] });
  checkAlert(t, of('users revoke-invite'), { command: 'users revoke-invite', type: '110137', outcome: '0', objectIds: ['bob'] });
  checkAlert(t, of('users add', '4'), { command: 'users add', type: '110137', outcome: '4', objectIds: ['alice'] });
  t.equal(description(of('users add', '4') as Alert), 'users add: refused: user-exists', 'the refusal and its reason');

  // No secret anywhere: not in the messages, not in the audit lines.
  const everything = [...receiver.messages(), ...sent.flatMap((r) => auditLines(r).map((l) => JSON.stringify(l)))].join('\n');
  const decoded = alerts.flatMap((a) => objects(a).map((o) => JSON.stringify(detail(o)))).join('\n');
  for (const s of secrets) {
    t.notOk(everything.includes(s), `secret …${s.slice(-4)} is not in a message or audit line`);
    t.notOk(decoded.includes(s), `secret …${s.slice(-4)} is not in an Alert Description`);
  }

  const files = alerts.map((a, i) => {
    const f = join(receiver.dir, `cli-${i}.xml`);
    writeFileSync(f, a.xml);
    return f;
  });
  const v = await run('xmllint', ['--noout', '--relaxng', SCHEMA, ...files]);
  t.equal(v.code, 0, `valid against the DICOM audit message schema: ${v.stderr.split('\n').filter((l) => !l.endsWith(' validates')).slice(0, 10).join('\n')}`);
});

t.test('users end-sessions (Redis state store): a Security Alert for the user whose sessions ended', async (t) => {
  const receiver = await startSyslogReceiver();
  t.teardown(() => receiver.destroy());
  const redis = await startRedis();
  t.teardown(() => redis.destroy());
  const state = { store: 'redis', keyPrefix: `pgw-cli-atna-${process.pid}:`, redis: redis.options({ commandTimeoutMs: 2000, connectTimeoutMs: 2000 }) };
  const dir = workspace(`${syslogConfig(receiver)}\nstate: ${JSON.stringify(state)}\nsession: { signingKey: ${randomBytes(32).toString('base64url')} }`);
  const r = await ok(t, dir, ['users', 'end-sessions', 'erin']);
  t.match(r.stdout, /erin had no session/);
  t.match(auditLines(r), [{ event: 'auth.session', decision: 'deny', reason: 'revoked:ended-by-admin', principal: 'erin', sessionEnded: false, command: 'users end-sessions', syslog: [{ delivered: true }] }], 'the JSON line as before, and delivered');
  await waitFor(() => receiver.messages().length >= 1, 20_000);
  const alerts = receiver.messages().map(parseSyslog);
  t.equal(alerts.length, 1);
  checkAlert(t, alerts[0], { command: 'users end-sessions', type: '110137', outcome: '0', objectIds: ['erin'] });
  t.equal(description(alerts[0] as Alert), 'users end-sessions: revoked:ended-by-admin', 'done (the sessions are what was denied)');
});

t.test('receiver down, or silent: the command warns, records it, does not hang; the change stands (exit 0)', async (t) => {
  const receiver = await startSyslogReceiver();
  t.teardown(() => receiver.destroy());
  const dir = workspace(syslogConfig(receiver));
  await ok(t, dir, ['users', 'add', 'carol', '--role', 'viewer', '--password-stdin'], 'Quiet-river-pw-41\n');
  await receiver.stop();

  const down = await cli(dir, ['users', 'disable', 'carol']);
  t.equal(down.timedOut, false, 'it did not hang');
  t.equal(down.code, 0, 'exit 0: the change is made');
  t.match(down.stdout, /user carol disabled/);
  const warning = new RegExp(`warning: the audit message of this command did not reach the ATNA receiver 127\\.0\\.0\\.1:${receiver.port} \\(audit\\.syslog\\): .*ECONNREFUSED.*The change is made`);
  t.match(down.stderr, warning, 'a warning naming the receiver and why');
  t.match(auditLines(down), [{ event: 'auth.account', decision: 'allow', reason: 'user-disabled', principal: 'carol', syslog: [{ destination: `127.0.0.1:${receiver.port}`, delivered: false, reason: /ECONNREFUSED/ }] }], 'the JSON line records it');
  const users = parseYaml(readFileSync(join(dir, 'users.yaml'), 'utf8')) as { users: Record<string, { disabled: boolean }> };
  t.equal(users.users['carol']?.disabled, true, 'carol is disabled');

  // A receiver that accepts TCP and never completes TLS: the bounded wait ends it.
  const sockets = new Set<Socket>();
  const silent = createServer((s) => { sockets.add(s); s.on('error', () => undefined); });
  const port = await freePort();
  await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close(); });
  writeFileSync(join(dir, 'gateway.yaml'), readFileSync(join(dir, 'gateway.yaml'), 'utf8').replace(`port: ${receiver.port}`, `port: ${port}`));
  const mute = await cli(dir, ['users', 'enable', 'carol']);
  t.equal(mute.timedOut, false, 'it did not hang');
  t.equal(mute.code, 0, mute.stderr);
  t.match(mute.stderr, new RegExp(`did not reach the ATNA receiver 127\\.0\\.0\\.1:${port} \\(audit\\.syslog\\): the receiver did not accept the message within 5 s`));
  t.ok(sockets.size > 0, 'the CLI did connect');
  t.match(auditLines(mute), [{ reason: 'user-enabled', syslog: [{ delivered: false }] }]);

  // A destination whose files cannot be read: nothing to send with, the same warning, at once.
  writeFileSync(join(dir, 'gateway.yaml'), readFileSync(join(dir, 'gateway.yaml'), 'utf8').replace(`ca: ${receiver.client.ca}`, 'ca: missing-ca.pem'));
  const unreadable = await cli(dir, ['users', 'disable', 'carol']);
  t.equal(unreadable.code, 0, unreadable.stderr);
  t.match(unreadable.stderr, /did not reach the ATNA receiver 127\.0\.0\.1:\d+ \(audit\.syslog\): audit\.syslog\.0\.ca: cannot read missing-ca\.pem/);
  t.match(auditLines(unreadable), [{ reason: 'user-disabled', syslog: [{ delivered: false, reason: /cannot read missing-ca\.pem/ }] }]);
});

t.test('without audit.syslog: each changing command writes its one JSON audit line, at once', async (t) => {
  const dir = workspace();
  const cases: readonly [readonly string[], string | undefined, Record<string, unknown>][] = [
    [['certs', 'init'], undefined, { event: 'cert.issued', decision: 'allow', reason: 'ca-created', command: 'certs init' }],
    [['certs', 'issue-server', '--dns', 'localhost'], undefined, { event: 'cert.issued', decision: 'allow', reason: 'server-certificate-issued', command: 'certs issue-server' }],
    [['certs', 'issue-client', 'ws1', '--role', 'viewer', '--ae', 'WS1'], undefined, { event: 'cert.issued', decision: 'allow', reason: 'device-certificate-issued', device: 'ws1', role: 'viewer', command: 'certs issue-client' }],
    [['certs', 'renew', 'ws1'], undefined, { event: 'cert.issued', decision: 'allow', reason: 'device-certificate-renewed', device: 'ws1', command: 'certs renew' }],
    [['certs', 'revoke', 'ws1'], undefined, { event: 'cert.revoked', decision: 'allow', reason: 'unspecified', device: 'ws1', newlyRevoked: true, command: 'certs revoke' }],
    [['certs', 'revoke', 'nobody'], undefined, { event: 'cert.revoked', decision: 'deny', device: 'nobody', command: 'certs revoke' }],
    [['users', 'add', 'dora', '--role', 'viewer', '--password-stdin'], 'Tall-cedar-pw-51\n', { event: 'auth.enrol', decision: 'allow', reason: 'user-added', principal: 'dora', role: 'viewer', command: 'users add' }],
    [['users', 'set-password', 'dora', '--password-stdin'], 'password1\n', { event: 'auth.account', decision: 'deny', reason: 'password-weak', principal: 'dora', command: 'users set-password' }],
    [['users', 'set-password', 'dora', '--password-stdin'], 'Warm-stone-pw-52\n', { event: 'auth.account', decision: 'allow', reason: 'password-changed', principal: 'dora', command: 'users set-password' }],
    [['users', 'reset-totp', 'dora'], undefined, { event: 'auth.account', decision: 'allow', reason: 'totp-reset', principal: 'dora', command: 'users reset-totp' }],
    [['users', 'set-ae', 'dora'], undefined, { event: 'auth.account', decision: 'allow', reason: 'ae-titles-changed', principal: 'dora', aeTitles: 'any', command: 'users set-ae' }],
    [['users', 'disable', 'dora'], undefined, { event: 'auth.account', decision: 'allow', reason: 'user-disabled', principal: 'dora', command: 'users disable' }],
    [['users', 'enable', 'dora'], undefined, { event: 'auth.account', decision: 'allow', reason: 'user-enabled', principal: 'dora', command: 'users enable' }],
    [['users', 'disable', 'nobody'], undefined, { event: 'auth.account', decision: 'deny', reason: 'user-unknown', principal: 'nobody', command: 'users disable' }],
    [['users', 'revoke-invite', 'dora'], undefined, { event: 'auth.enrol', decision: 'allow', reason: 'no-open-invite', principal: 'dora', command: 'users revoke-invite' }],
  ];
  for (const [args, input, expected] of cases) {
    const r = await cli(dir, args, input);
    t.equal(r.code, expected['decision'] === 'allow' ? 0 : 1, `${args.join(' ')}: ${r.stderr}`);
    const lines = auditLines(r);
    t.equal(lines.length, 1, `${args.join(' ')}: one audit line`);
    t.match(lines[0], { ...expected, source: 'cli', osUser: OS_USER }, `${args.join(' ')}: the event`);
    t.notOk('syslog' in (lines[0] ?? {}), 'no delivery report without destinations');
    if (input !== undefined) t.notOk(r.stderr.includes(input.trim()), 'the password is not in it');
  }
  const list = await ok(t, dir, ['users', 'list']);
  t.same(auditLines(list), [], 'a read-only command writes none');
});
