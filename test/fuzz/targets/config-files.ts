// The YAML config and the users / devices files: their own error code only; what loads is validated and frozen.

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGatewayError as isOwn } from '../../../src/errors.js';
import { loadConfig } from '../../../src/config/load.js';
import { readDevicesFile } from '../../../src/identity/device-registry.js';
import { readUsersFile } from '../../../src/identity/file-user-directory.js';
import { must, type FuzzTarget } from '../engine/target.js';

let dir: string | undefined;
const file = (name: string): string => join(dir as string, name);

function deepFrozen(o: unknown, depth = 0): boolean {
  if (typeof o !== 'object' || o === null || depth > 20) return true;
  return Object.isFrozen(o) && Object.values(o).every((v) => deepFrozen(v, depth + 1));
}

const YAML_DICTIONARY = ['\n', ': ', '- ', '  ', '{', '}', '[', ']', '"', "'", '&a', '*a', '<<: *a', '!!binary', '!!js/function', '${HOME}', '${X:-1}', '${', '~', 'null', 'true', '0x10', '1e400', '99999', '-1', '.inf', '__proto__', 'constructor', '\t', '%YAML 1.1', '---', '...', '? ', '|', '>'];

/** A memory-backed folder when there is one: the loaders read real files, and a disk write per execution costs milliseconds. */
async function makeDir(): Promise<void> { dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'pgw-fuzz-config-')); }
async function removeDir(): Promise<void> { if (dir !== undefined) rmSync(dir, { recursive: true, force: true }); }

export const configTarget: FuzzTarget = {
  name: 'config',
  about: 'src/config/load.ts loadConfig on YAML text: ERR_CONFIG_INVALID only, every problem line names an option path; a config that loads is deeply frozen with ports in range',
  files: ['src/config/load', 'src/config/schema', 'src/config/defaults'],
  maxLength: 1536,
  dictionary: [...YAML_DICTIONARY, 'listen:', 'https:', 'port:', 'roles:', 'state:', 'store: redis', 'session:', 'signingKey:', 'dicom:', 'maxPduBytes:', 'tls:', 'upstream:', 'users:', 'backend: redis', 'sentinels:', 'cluster:'],
  seeds: () => [readFileSync('config/gateway.example.yaml'), Buffer.from('listen:\n  https: {port: 8443}\nroles:\n  viewer: [search, retrieve]\n  mover: {actions: [move], moveDestinations: [DEST]}\nstate:\n  store: redis\n  redis: {sentinels: [{host: a, port: 1}], sentinelName: m}\nsession: {signingKey: "${KEY:-0123456789abcdef0123456789abcdef}"}\n')],
  setup: makeDir,
  teardown: removeDir,
  run(input) {
    writeFileSync(file('gateway.yaml'), input);
    let config;
    try {
      config = loadConfig(file('gateway.yaml'), { env: { HOME: '/home/x' }, baseDir: dir as string });
    } catch (err) {
      must(isOwn(err, 'ERR_CONFIG_INVALID'), `loadConfig threw ${String(err)}`);
      const problems = ((err as { detail?: { problems?: unknown } }).detail?.problems ?? []) as unknown[];
      // A problem names the option path (which may be a key the file made up) before a colon.
      for (const p of problems) must(typeof p === 'string' && p.indexOf(': ') >= 0, `a problem that names no option: ${JSON.stringify(p)}`);
      return;
    }
    must(deepFrozen(config), 'a loaded config is not deeply frozen');
    for (const l of [config.listen.https, config.listen.dicom]) must(Number.isInteger(l.port) && l.port >= 0 && l.port <= 65535, `port ${l.port} accepted`);
  },
};

export const usersFileTarget: FuzzTarget = {
  name: 'users-file',
  about: 'src/identity/file-user-directory.ts readUsersFile: ERR_USERS_FILE only; each user loaded has a valid name, an scrypt hash and a base32 secret',
  files: ['src/identity/file-user-directory', 'src/identity/user-record', 'src/util/read-yaml-section'],
  maxLength: 1536,
  dictionary: [...YAML_DICTIONARY, 'users:', 'role:', 'passwordHash:', 'scrypt$', 'totpSecret:', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'disabled:', 'true', 'rita'],
  seeds: () => [Buffer.from('users:\n  rita:\n    role: radiologist\n    passwordHash: scrypt$131072$8$1$c2FsdA$a2V5\n    totpSecret: JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n    disabled: false\n    createdAt: "2026-01-01T00:00:00.000Z"\n')],
  setup: makeDir,
  teardown: removeDir,
  run(input) {
    writeFileSync(file('users.yaml'), input);
    let users;
    try { users = readUsersFile(file('users.yaml')); } catch (err) { must(isOwn(err, 'ERR_USERS_FILE'), `readUsersFile threw ${String(err)}`); return; }
    for (const [name, u] of users) {
      must(name === u.username && /^[a-z0-9][a-z0-9._@-]{0,63}$/.test(name), `user name ${JSON.stringify(name)} accepted`);
      must(u.passwordHash.startsWith('scrypt$') && /^[A-Z2-7]{26,}$/.test(u.totpSecret) && typeof u.disabled === 'boolean', `user ${name} loaded with bad fields`);
    }
  },
};

export const devicesFileTarget: FuzzTarget = {
  name: 'devices-file',
  about: 'src/identity/device-registry.ts readDevicesFile: ERR_CONFIG_INVALID only; each device has a fingerprint or CN, AE titles of 1–16 characters without backslash',
  files: ['src/identity/device-registry', 'src/util/read-yaml-section'],
  maxLength: 1536,
  dictionary: [...YAML_DICTIONARY, 'devices:', 'role:', 'aeTitles:', 'fingerprint:', 'subjectCn:', 'moveDestinations:', 'AB:CD:', '\\\\'],
  seeds: () => [Buffer.from(`devices:\n  ct1:\n    role: technologist\n    aeTitles: [CT01, " CT02 "]\n    fingerprint: ${'AB:'.repeat(31)}AB\n    serial: "0A"\n  mr1:\n    role: technologist\n    subjectCn: mr1\n    aeTitles: []\n`)],
  setup: makeDir,
  teardown: removeDir,
  run(input) {
    writeFileSync(file('devices.yaml'), input);
    let devices;
    try { devices = readDevicesFile(file('devices.yaml')); } catch (err) { must(isOwn(err, 'ERR_CONFIG_INVALID'), `readDevicesFile threw ${String(err)}`); return; }
    for (const d of devices.values()) {
      must(d.fingerprint !== undefined || d.subjectCn !== undefined, `device ${d.name} has neither fingerprint nor CN`);
      must(d.aeTitles.every((a) => /^[\x20-\x5b\x5d-\x7e]{0,16}$/.test(a)), `device ${d.name} AE titles ${JSON.stringify(d.aeTitles)}`);
    }
  },
};
