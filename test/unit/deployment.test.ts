// docs/deployment/: the Compose file parses as YAML with the expected services, networks and ports
// (docker compose config is not available here), the gateway configs validate, and Orthanc's
// settings and the firewall example keep the PACS talking to the gateway and the relay only.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { buildConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';

const dir = 'docs/deployment';
const read = (f: string): string => readFileSync(`${dir}/${f}`, 'utf8');
const yaml = (f: string): any => parse(read(f), { uniqueKeys: true, merge: true });
const env = { PACS_GATEWAY_SESSION_KEY: 'x'.repeat(48), REDIS_PASSWORD: 'redis-password' };

const ORTHANC = '172.30.0.10';
const REDIS = '172.30.0.11';
const GATEWAYS = ['172.30.0.21', '172.30.0.22'];
const RELAY = '172.30.0.30';

t.test('compose.yaml: Orthanc, Redis, two gateway replicas and the relay', async (t) => {
  const c = yaml('compose.yaml');
  t.same(Object.keys(c.services).sort(), ['gateway-1', 'gateway-2', 'orthanc', 'redis', 'relay']);
  const s = c.services;
  const addr = (name: string): string => s[name].networks.pacs.ipv4_address;
  t.equal(addr('orthanc'), ORTHANC);
  t.equal(addr('redis'), REDIS);
  t.same([addr('gateway-1'), addr('gateway-2')], GATEWAYS);
  t.equal(addr('relay'), RELAY);
  t.equal(c.networks.pacs.internal, true, 'the PACS network has no route out and publishes nothing');
  t.equal(c.networks.pacs.ipam.config[0].subnet, '172.30.0.0/24');
  for (const name of ['orthanc', 'redis', 'relay']) t.equal(s[name].ports, undefined, `${name} publishes no port`);
  t.same(Object.keys(s.orthanc.networks), ['pacs'], 'Orthanc is on the PACS network only');
  t.same(Object.keys(s.redis.networks), ['pacs'], 'Redis is on the PACS network only');
  t.same(s['gateway-1'].ports, ['8443:8443', '2762:2762'], 'replica 1: HTTPS and DICOM TLS');
  t.same(s['gateway-2'].ports, ['8444:8443', '2763:2762'], 'replica 2: HTTPS and DICOM TLS');
  for (const name of ['gateway-1', 'gateway-2', 'relay']) {
    t.equal(s[name].image, 'pacs-gateway:latest', `${name}: the gateway image (YAML merge key applied)`);
    t.equal(s[name].read_only, true);
    t.same(s[name].cap_drop, ['ALL']);
    t.match(s[name].environment.PACS_GATEWAY_SESSION_KEY, /^\$\{PACS_GATEWAY_SESSION_KEY:\?/, 'the signing key comes from the environment, required');
  }
  t.match(s.relay.volumes, ['./relay.yaml:/app/config/gateway.yaml:ro']);
  t.match(s['gateway-1'].volumes, ['./gateway.yaml:/app/config/gateway.yaml:ro']);
  t.match(s.redis.command, ['redis-server', '--requirepass']);
  t.ok(s.redis.command.includes('noeviction'), 'docs/redis.md: noeviction');
  t.notOk(/BEGIN [A-Z ]*PRIVATE KEY|requirepass [^$"]/.test(read('compose.yaml')), 'no secret in the file');
});

t.test('gateway.yaml validates and points at the PACS and Redis on the PACS network', async (t) => {
  const c = buildConfig(yaml('gateway.yaml'), { env, baseDir: '/app', source: 'gateway.yaml' });
  t.equal(c.upstream.dicom.host, ORTHANC);
  t.equal(new URL(c.upstream.dicomweb).hostname, ORTHANC);
  t.equal(c.state.redis.host, REDIS);
  t.same([c.listen.https.port, c.listen.dicom.port], [8443, 2762], 'the ports compose.yaml publishes');
  t.equal(c.state.store, 'redis');
  t.equal(c.users.backend, 'redis');
  t.equal(c.listen.dicomLegacy, undefined, 'the legacy port is off unless uncommented');
  // The commented legacy block is valid once uncommented.
  const legacy = read('gateway.yaml').replace(/^  # dicomLegacy:/m, '  dicomLegacy:').replace(/^# (legacyDevices:|  old-ct:|    addresses:|    aeTitles:)/gm, '$1');
  t.match(buildConfig(parse(legacy), { env, baseDir: '/app' }).legacyDevices, { 'old-ct': { addresses: ['10.20.30.17'], aeTitles: ['OLD_CT1'] } });
});

t.test('relay.yaml: the relay listens on the PACS network for the PACS only', async (t) => {
  const raw = yaml('relay.yaml');
  t.match(raw.relay, { listen: { host: RELAY, port: 11112 }, allowFrom: [`${ORTHANC}/32`] });
  for (const d of Object.values(raw.relay.destinations) as any[]) t.match(d, { host: String, port: Number, tls: { ca: String, cert: String, key: String } });
  // Before the relay's schema is merged (issue 16 §1), validate everything else.
  const hasRelay = Object.hasOwn(configSchema.properties, 'relay');
  const { relay: _relay, ...rest } = raw;
  const c = buildConfig(hasRelay ? raw : rest, { env, baseDir: '/app' });
  t.same([c.listen.https.host, c.listen.dicom.host], ['127.0.0.1', '127.0.0.1'], 'clients use the replicas, not the relay');
});

t.test('orthanc.json: no AE title is let in by default, every known AE is reached through the relay', async (t) => {
  const o = JSON.parse(read('orthanc.json'));
  for (const k of ['Echo', 'Store', 'Find', 'FindWorklist', 'Get', 'Move']) t.equal(o[`DicomAlwaysAllow${k}`], false, `DicomAlwaysAllow${k}`);
  t.equal(o.DicomCheckCalledAet, true);
  const aes = Object.values(o.DicomModalities) as any[];
  t.ok(aes.length > 0);
  for (const m of aes) t.match(m, { Host: RELAY, Port: 11112 }, `${m.AET}: sends go to the relay`);
  const relay = yaml('relay.yaml').relay;
  t.ok(Object.keys(relay.destinations).every((ae) => aes.some((m) => m.AET === ae)), 'every relay destination is an AE Orthanc knows');
  const gw = buildConfig(yaml('gateway.yaml'), { env, baseDir: '/app' });
  t.equal(o.DicomAet, gw.upstream.dicom.aeTitle, 'the called AE the gateway uses');
  t.equal(o.DicomPort, gw.upstream.dicom.port);
  const moves = Object.values(gw.roles).flatMap((r) => r.moveDestinations);
  t.ok(moves.every((ae) => Object.hasOwn(relay.destinations, ae)), 'every moveDestination of a role has a relay destination');
});

t.test('pacs-host.nft: DICOM and HTTP in from the gateways only, DICOM out to the relay only', async (t) => {
  const nft = read('pacs-host.nft');
  t.match(nft, `define GATEWAYS = { ${GATEWAYS.join(', ')} }`);
  t.match(nft, `define RELAY = ${RELAY}`);
  t.match(nft, /chain input \{\s*type filter hook input priority filter; policy drop;/);
  t.match(nft, /chain output \{\s*type filter hook output priority filter; policy drop;/);
  t.match(nft, /tcp dport \{ 4242, 8042 \} ip saddr \$GATEWAYS accept/);
  t.match(nft, /tcp dport 11112 ip daddr \$RELAY accept/);
  t.equal((nft.match(/\{/g) ?? []).length, (nft.match(/\}/g) ?? []).length, 'braces balance');
  const doc = readFileSync('docs/deployment.md', 'utf8');
  t.match(doc, /tcp dport \{ 4242, 8042 \} ip saddr \$GATEWAYS accept/, 'docs/deployment.md shows the same rules');
  t.match(doc, /allowFrom: \[172\.30\.0\.10\/32\]/, 'docs/deployment.md: the relay admits the PACS only, as relay.yaml');
});
