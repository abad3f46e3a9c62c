// The pacs-gateway CLI as an admin runs it: check-config, users add/list/disable/reset-totp.

import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { verifyPassword } from '../../src/identity/password.js';
import { matchTotp } from '../../src/identity/totp.js';
import { oathtool, run } from '../helpers/tools.js';

const BIN = join(process.cwd(), 'bin/pacs-gateway.js');
const cli = (args: string[], options: { cwd: string; input?: string }) => run(process.execPath, [BIN, ...args], { ...options, timeoutMs: 60_000 });

function workspace(config = 'users: { file: users.yaml }\n'): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-cli-'));
  writeFileSync(join(dir, 'gateway.yaml'), config);
  return dir;
}

t.test('check-config', async (t) => {
  const good = workspace('tls: { autoGenerate: true }\n');
  const ok = await cli(['check-config', '--config', 'gateway.yaml'], { cwd: good });
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /configuration OK/);
  t.match(ok.stderr, /warning: TLS files missing .* DEVELOPMENT certificates/);

  const bad = workspace('listen: { https: { port: 99999 } }\nroles: { viewer: [serch] }\nstate: { store: redis }\n');
  const r = await cli(['check-config', '--config', 'gateway.yaml'], { cwd: bad });
  t.equal(r.code, 1);
  t.match(r.stderr, /listen\.https\.port: must be <= 65535 \(got 99999\)/);
  t.match(r.stderr, /roles\.viewer\.0: must be one of/);
  t.match(r.stderr, /session\.signingKey: required with state\.store: redis/);
  t.notMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');

  const noTls = workspace('tls: { autoGenerate: false }\n');
  const missing = await cli(['check-config', '--config', 'gateway.yaml'], { cwd: noTls });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /tls\.cert .*server\.crt cannot be read/);

  const run1 = await cli(['run', '--config', 'gateway.yaml'], { cwd: bad });
  t.equal(run1.code, 1, 'run refuses an invalid config too');
  t.match(run1.stderr, /listen\.https\.port/);
  const absent = await cli(['check-config', '--config', 'nope.yaml'], { cwd: good });
  t.equal(absent.code, 1);
  t.match(absent.stderr, /cannot read config file nope\.yaml/);
  const unknown = await cli(['frobnicate'], { cwd: good });
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "frobnicate"/);
});

t.test('users add / list / disable / enable / reset-totp / set-password', async (t) => {
  const dir = workspace();
  const add = await cli(['users', 'add', 'alice', '--role', 'radiologist', '--password-stdin', '--json', '--config', 'gateway.yaml'], { cwd: dir, input: 'Correct-Horse-42\n' });
  t.equal(add.code, 0, add.stderr);
  const out = JSON.parse(add.stdout);
  t.same(Object.keys(out).sort(), ['otpauthUri', 'role', 'totpSecret', 'username']);
  t.match(out, { username: 'alice', role: 'radiologist', totpSecret: /^[A-Z2-7]{32}$/ });
  t.equal(out.otpauthUri, `otpauth://totp/pacs-gateway:alice?secret=${out.totpSecret}&issuer=pacs-gateway`);
  const now = Date.now();
  t.ok((await matchTotp(out.totpSecret, await oathtool(out.totpSecret, { now: new Date(now) }), now)) !== null, 'the secret works with oathtool');

  const file = readFileSync(join(dir, 'users.yaml'), 'utf8');
  t.notMatch(file, /Correct-Horse-42/, 'the password is not stored');
  t.match(file, /passwordHash: scrypt\$131072\$8\$1\$/);
  t.equal(statSync(join(dir, 'users.yaml')).mode & 0o777, 0o600, 'users file is 0600');

  const qr = await cli(['users', 'add', 'bob', '--role', 'viewer', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'Viewer-has-long-pw-9' });
  t.equal(qr.code, 0, qr.stderr);
  t.match(qr.stdout, /[▀▄█]{10}/, 'a QR code is drawn in the terminal');
  t.match(qr.stdout, /otpauth:\/\/totp\/pacs-gateway:bob\?secret=/);

  const dup = await cli(['users', 'add', 'alice', '--role', 'viewer', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'Another-long-pw-1' });
  t.equal(dup.code, 1);
  t.match(dup.stderr, /ERR_USER_EXISTS/);
  const weak = await cli(['users', 'add', 'carl', '--role', 'viewer', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'password1' });
  t.equal(weak.code, 1);
  t.match(weak.stderr, /ERR_PASSWORD_WEAK/);
  const short = await cli(['users', 'add', 'carl', '--role', 'viewer', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'Ab1!x' });
  t.match(short.stderr, /at least 8 characters/);
  const role = await cli(['users', 'add', 'carl', '--role', 'janitor', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'Carl-long-pw-88' });
  t.match(role.stderr, /role "janitor" is not in the configuration \(roles: radiologist, technologist, viewer\)/);
  const noTty = await cli(['users', 'add', 'carl', '--role', 'viewer', '--config', 'gateway.yaml'], { cwd: dir });
  t.equal(noTty.code, 2);
  t.match(noTty.stderr, /--password-stdin/);
  const badName = await cli(['users', 'add', 'Bad Name', '--role', 'viewer', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'Carl-long-pw-88' });
  t.match(badName.stderr, /ERR_USERNAME_INVALID/);

  const list = await cli(['users', 'list', '--json', '--config', 'gateway.yaml'], { cwd: dir });
  t.same(JSON.parse(list.stdout).map((u: { username: string; disabled: boolean }) => [u.username, u.disabled]), [['alice', false], ['bob', false]]);
  t.notMatch(list.stdout, /scrypt|totpSecret/, 'list never shows secrets');

  t.equal((await cli(['users', 'disable', 'bob', '--config', 'gateway.yaml'], { cwd: dir })).code, 0);
  t.match((await cli(['users', 'list', '--config', 'gateway.yaml'], { cwd: dir })).stdout, /bob\s+viewer\s+disabled/);
  t.equal((await cli(['users', 'enable', 'bob', '--config', 'gateway.yaml'], { cwd: dir })).code, 0);
  const missing = await cli(['users', 'disable', 'zed', '--config', 'gateway.yaml'], { cwd: dir });
  t.equal(missing.code, 1);
  t.match(missing.stderr, /no user "zed"/);

  const reset = await cli(['users', 'reset-totp', 'alice', '--json', '--config', 'gateway.yaml'], { cwd: dir });
  t.equal(reset.code, 0);
  t.not(JSON.parse(reset.stdout).totpSecret, out.totpSecret, 'a new secret');

  // set-password: the rules of users add; the new hash replaces the old one (sessions: dimse-credential-lifetime tests).
  const hashOf = (name: string): string => (parse(readFileSync(join(dir, 'users.yaml'), 'utf8')) as { users: Record<string, { passwordHash: string }> }).users[name]?.passwordHash ?? '';
  const before = hashOf('alice');
  const weakNew = await cli(['users', 'set-password', 'alice', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'password1\n' });
  t.equal(weakNew.code, 1);
  t.match(weakNew.stderr, /ERR_PASSWORD_WEAK/);
  t.match((await cli(['users', 'set-password', 'alice', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'my-alice-pw\n' })).stderr, /ERR_PASSWORD_WEAK/, 'not containing the username');
  t.equal((await cli(['users', 'set-password', 'alice', '--config', 'gateway.yaml'], { cwd: dir })).code, 2, 'no terminal and no --password-stdin');
  t.match((await cli(['users', 'set-password', 'zed', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'Zed-long-pw-77\n' })).stderr, /ERR_USER_UNKNOWN.*no user "zed"/);
  t.equal(hashOf('alice'), before, 'refused attempts changed nothing');
  const setPw = await cli(['users', 'set-password', 'alice', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'Brand-New-Horse-43\n' });
  t.equal(setPw.code, 0, setPw.stderr);
  t.match(setPw.stdout, /password of alice changed; their sessions, DIMSE tokens and associations end now/);
  t.not(hashOf('alice'), before, 'a new hash');
  t.ok(await verifyPassword('Brand-New-Horse-43', hashOf('alice')), 'the new password verifies');
  t.notOk(await verifyPassword('Correct-Horse-42', hashOf('alice')), 'the old one does not');
  t.notMatch(readFileSync(join(dir, 'users.yaml'), 'utf8'), /Brand-New-Horse-43/, 'the password is not stored');
});

t.test('users add --ae / set-ae: the calling AE titles a user may use over DICOM', async (t) => {
  const dir = workspace();
  const add = await cli(['users', 'add', 'wanda', '--role', 'technologist', '--ae', 'WS-WANDA', '--ae', 'WS-2', '--password-stdin', '--json', '--config', 'gateway.yaml'], { cwd: dir, input: 'Correct-Horse-Battery-61\n' });
  t.equal(add.code, 0, add.stderr);
  t.match(readFileSync(join(dir, 'users.yaml'), 'utf8'), /aeTitles:\n\s+- WS-WANDA\n\s+- WS-2\n/, 'stored in the users file');
  const list = async (): Promise<unknown> => JSON.parse((await cli(['users', 'list', '--json', '--config', 'gateway.yaml'], { cwd: dir })).stdout)[0].aeTitles;
  t.same(await list(), ['WS-WANDA', 'WS-2']);
  const set = await cli(['users', 'set-ae', 'wanda', '--ae', 'CT-ROOM-3', '--config', 'gateway.yaml'], { cwd: dir });
  t.equal(set.code, 0, set.stderr);
  t.match(set.stdout, /may use the calling AE titles CT-ROOM-3/);
  t.same(await list(), ['CT-ROOM-3']);
  const bad = await cli(['users', 'set-ae', 'wanda', '--ae', 'BACK\\SLASH', '--config', 'gateway.yaml'], { cwd: dir });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /not an AE title/);
  const long = await cli(['users', 'add', 'xena', '--role', 'viewer', '--ae', 'SEVENTEEN-CHARS-X', '--password-stdin', '--config', 'gateway.yaml'], { cwd: dir, input: 'Correct-Horse-Battery-62\n' });
  t.equal(long.code, 2, 'an AE title over 16 characters');
  const clear = await cli(['users', 'set-ae', 'wanda', '--config', 'gateway.yaml'], { cwd: dir });
  t.match(clear.stdout, /may use any calling AE title/);
  t.equal(await list(), undefined, 'no limit any more');
  t.notMatch(readFileSync(join(dir, 'users.yaml'), 'utf8'), /aeTitles/);
});
