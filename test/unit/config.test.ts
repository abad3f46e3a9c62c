// Unit tests for configuration loading: defaults, environment variables, and errors that name the field.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildConfig, loadConfig } from '../../src/config/load.js';
import { isGatewayError } from '../../src/errors.js';

function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    buildConfig(raw, { env });
  } catch (err) {
    if (isGatewayError(err, 'ERR_CONFIG_INVALID')) return (err.detail?.['problems'] as string[] | undefined) ?? [err.message];
    throw err;
  }
  return [];
}

t.test('the example config is valid and frozen', async (t) => {
  const c = loadConfig('config/gateway.example.yaml');
  t.equal(c.listen.https.port, 8443);
  t.equal(c.listen.dicom.port, 2762);
  t.same(c.roles['viewer']?.actions, ['search', 'retrieve']);
  t.equal(c.state.store, 'memory');
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.listen.https) && Object.isFrozen(c.roles['viewer']?.actions));
});

t.test('an empty file gets the defaults', async (t) => {
  const c = buildConfig(null, { env: {} });
  t.equal(c.upstream.dicom.aeTitle, 'ORTHANC');
  t.equal(c.tls.autoGenerate, false, 'production default: no generated certificates');
  t.equal(c.session.idleMinutes, 30);
  t.equal(c.dicom.maxAssociationHours, 12, 'no association outlives a session by default');
  t.equal(c.log.flushMs, 20, 'log lines gathered for at most 20 ms');
  t.equal(buildConfig({ log: { level: 'warn' } }, { env: {} }).log.flushMs, 20, 'setting the level keeps the flush default');
});

t.test('log.flushMs: 0 to 1000 ms, whole numbers', async (t) => {
  t.equal(buildConfig({ log: { flushMs: 0 } }, { env: {} }).log.flushMs, 0);
  t.match(problems({ log: { flushMs: 1001 } }), [/^log\.flushMs: must be <= 1000 \(got 1001\)/]);
  t.match(problems({ log: { flushMs: -1 } }), [/^log\.flushMs: must be >= 0/]);
  t.match(problems({ log: { flushMs: 2.5 } }), [/^log\.flushMs: must be integer/]);
});

t.test('errors name the field and what is valid', async (t) => {
  t.match(problems({ listen: { https: { port: 70000 } } }), [/^listen\.https\.port: must be <= 65535 \(got 70000\)/]);
  t.match(problems({ listne: {} }), [/^listne: unknown option/]);
  t.match(problems({ tls: { autoGen: true } }), [/^tls\.autoGen: unknown option/]);
  t.match(problems({ state: { store: 'mongo' } }), [/^state\.store: must be one of "memory", "redis" \(got "mongo"\)/]);
  t.match(problems({ roles: { viewer: ['serch'] } }), [/^roles\.viewer\.0: must be one of "echo", "search"/]);
  t.match(problems({ roles: { viewer: 5 } }), [/^roles\.viewer: must be a list of actions/]);
  t.match(problems({ upstream: { dicom: { aeTitle: 'THIS-AE-TITLE-IS-TOO-LONG' } } }), [/^upstream\.dicom\.aeTitle: must match pattern/]);
  t.match(problems({ upstream: { dicomweb: 'ftp://x' } }), [/^upstream\.dicomweb: must match pattern/]);
  t.match(problems({ session: { cookieName: 'session' } }), [/^session\.cookieName/]);
  t.match(problems({ state: { store: 'redis' } }), [/^session\.signingKey: required with state\.store: redis/]);
  t.match(problems({ users: { backend: 'redis' } }), [/^users\.backend: "redis" needs state\.store: redis/]);
  t.match(problems({ roles: { viewer: { actions: ['search'], moveDestinations: ['X'] } } }), [/^roles\.viewer\.moveDestinations: set, but the role lacks the "move" action/]);
  t.match(problems({ dicom: { maxAssociationHours: 0 } }), [/^dicom\.maxAssociationHours: must be >= 1 \(got 0\)/]);
  t.match(problems({ dicom: { maxAssociationHours: 1.5 } }), [/^dicom\.maxAssociationHours: must be integer/]);
  t.equal(problems({ listen: { https: { port: 'x' } }, log: { level: 'loud' } }).length, 2, 'every problem is listed at once');
});

t.test('environment variables fill secrets; missing ones are named', async (t) => {
  const key = 'k'.repeat(40);
  t.equal(buildConfig({ session: { signingKey: '${PGW_KEY}' } }, { env: { PGW_KEY: key } }).session.signingKey, key);
  t.equal(buildConfig({ upstream: { dicom: { host: '${PACS_HOST:-10.0.0.5}' } } }, { env: {} }).upstream.dicom.host, '10.0.0.5');
  t.match(problems({ session: { signingKey: '${PGW_KEY}' } }), [/^session\.signingKey: environment variable PGW_KEY is not set/]);
});

t.test('unreadable and non-YAML files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-cfg-'));
  t.throws(() => loadConfig(join(dir, 'missing.yaml')), { code: 'ERR_CONFIG_READ', message: /cannot read config file/ });
  writeFileSync(join(dir, 'bad.yaml'), 'listen: [unclosed\n');
  t.throws(() => loadConfig(join(dir, 'bad.yaml')), { code: 'ERR_CONFIG_INVALID', message: /not valid YAML/ });
  writeFileSync(join(dir, 'dup.yaml'), 'log: {level: info}\nlog: {level: debug}\n');
  t.throws(() => loadConfig(join(dir, 'dup.yaml')), { code: 'ERR_CONFIG_INVALID' }, 'duplicate keys are an error, not a silent override');
  writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n');
  t.throws(() => loadConfig(join(dir, 'list.yaml')), { code: 'ERR_CONFIG_INVALID', message: /top level must be a mapping/ });
});

t.test('roles.<role>.aeTitles: calling AE titles of the role, absent by default', async (t) => {
  const c = buildConfig({ roles: { reader: { actions: ['search'], aeTitles: ['READ1', 'READ2 '] }, viewer: ['search'] } }, { env: {} });
  t.same(c.roles['reader']?.aeTitles, ['READ1', 'READ2'], 'compared as the parser decodes a calling AE (padding removed)');
  t.equal(c.roles['viewer']?.aeTitles, undefined, 'a role without aeTitles: any');
  t.match(problems({ roles: { reader: { actions: ['search'], aeTitles: ['SEVENTEEN-CHARS-X'] } } }).join('\n'), /^roles\.reader\.aeTitles\.0: must match pattern/m);
  t.match(problems({ roles: { reader: { actions: ['search'], aeTitles: ['A\\B'] } } }).join('\n'), /^roles\.reader\.aeTitles\.0: must match pattern/m);
  t.match(problems({ roles: { reader: { actions: ['search'], aeTitles: 'READ1' } } }).join('\n'), /^roles\.reader\.aeTitles: must be array/m);
});

t.test('regression (fuzz config): a role with moveDestinations but no list of actions is a config error, not a TypeError', async (t) => {
  for (const rules of [{ moveDestinations: ['DEST'] }, { actions: 5, moveDestinations: ['DEST'] }, null, 7, 'search']) {
    const p = problems({ roles: { mover: rules } });
    t.ok(p.length > 0 && p.every((x) => x.startsWith('roles.')), `refused, naming the role: ${JSON.stringify(p)}`);
  }
});
