// The relay's pure parts: its config section (off by default, every error named), the allow-list and the outbound guard.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { checkConfigCommand } from '../../src/cli/check-config-command.js';
import { buildConfig } from '../../src/config/load.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { decodeCommandSet } from '../../src/dicom/command-set.js';
import { CommandField, CommandTag, NO_DATA_SET } from '../../src/dicom/constants.js';
import { PduError } from '../../src/dicom/pdu-error.js';
import { isGatewayError } from '../../src/errors.js';
import { AllowList } from '../../src/relay/allow-list.js';
import { decideOutbound } from '../../src/relay/outbound-guard.js';
import { createCa, issueCertificate } from '../../src/tls/issue.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const tls = { ca: 'site-ca.crt', cert: 'gw.crt', key: 'gw.key' };
const relay = { listen: { host: '10.0.0.2', port: 11112 }, allowFrom: ['10.0.0.5', '10.1.0.0/16'], destinations: { REMOTEWS: { host: 'ws.example.org', port: 2762, tls } } };

function problems(raw: unknown): string[] {
  try {
    buildConfig(raw, { env: {} });
  } catch (err) {
    if (isGatewayError(err, 'ERR_CONFIG_INVALID')) return (err.detail?.['problems'] as string[] | undefined) ?? [err.message];
    throw err;
  }
  return [];
}

t.test('relay config: off by default, validated when given', async (t) => {
  t.equal(buildConfig(null, { env: {} }).relay, undefined, 'no relay unless configured');
  t.same(buildConfig({ relay }, { env: {} }).relay?.destinations['REMOTEWS']?.tls, tls);
  t.match(problems({ relay: { ...relay, allowFrom: ['10.0.0.0/33'] } }), [/^relay\.allowFrom\.0: "10\.0\.0\.0\/33": the prefix length must be 0–32/]);
  t.match(problems({ relay: { ...relay, allowFrom: ['pacs.local'] } }), [/^relay\.allowFrom\.0: "pacs\.local" is not an IP address or a CIDR range/]);
  t.match(problems({ relay: { ...relay, allowFrom: [] } }), [/^relay\.allowFrom: must NOT have fewer than 1 items/]);
  t.match(problems({ relay: { listen: relay.listen, allowFrom: relay.allowFrom } }), [/^relay: must have required property 'destinations'/]);
  t.match(problems({ relay: { ...relay, destinations: { REMOTEWS: { host: 'ws', port: 104 } } } }), [/^relay\.destinations\.REMOTEWS: must have required property 'tls'/]);
  t.match(problems({ relay: { ...relay, destinations: { REMOTEWS: { host: 'ws', port: 104, tls: { ca: 'x' } } } } }), [/relay\.destinations\.REMOTEWS\.tls: must have required property 'cert'/]);
  t.match(problems({ relay: { ...relay, destinations: { 'AE-TITLE-FAR-TOO-LONG': { host: 'ws', port: 104, tls } } } }), [/^relay\.destinations/]);
  t.match(problems({ relay: { ...relay, listen: { port: 11112 } } }), [/^relay\.listen: must have required property 'host'/]);
  t.match(problems({ relay: { ...relay, cleartext: true } }), [/^relay\.cleartext: unknown option/]);
  // A legacy device (admitted by its address alone) must not also count as the PACS on the relay.
  const legacy = { listen: { dicomLegacy: { host: '10.0.0.2', port: 104 } }, legacyDevices: { oldct: { addresses: ['10.1.4.17'], aeTitles: ['OLD_CT'] } } };
  t.match(problems({ relay, ...legacy }), [/^relay\.allowFrom\.1: "10\.1\.0\.0\/16" takes in 10\.1\.4\.17 of legacyDevices\.oldct/]);
  t.match(problems({ relay: { ...relay, allowFrom: ['10.1.4.17'] }, ...legacy, legacyDevices: { oldct: { addresses: ['10.1.0.0/16'], aeTitles: ['OLD_CT'] } } }), [/^relay\.allowFrom\.0: .* legacyDevices\.oldct/], 'a legacy range holding the PACS address');
  t.same(problems({ relay: { ...relay, allowFrom: ['10.0.0.5'] }, ...legacy }), [], 'disjoint: accepted');
});

t.test('allow-list: addresses and CIDR ranges, IPv4-mapped IPv6 as IPv4', async (t) => {
  const a = new AllowList(['10.0.0.5', '10.1.0.0/16', 'fd00::/64']);
  t.ok(a.allows('10.0.0.5'));
  t.ok(a.allows('::ffff:10.0.0.5'), 'a dual-stack listener reports IPv4 clients as mapped');
  t.ok(a.allows('10.1.200.3'));
  t.notOk(a.allows('10.0.0.6'));
  t.notOk(a.allows('10.2.0.1'));
  t.ok(a.allows('fd00::1234'));
  t.notOk(a.allows('fd00:0:0:1::1'));
  t.notOk(a.allows(undefined), 'a socket without an address is not allowed');
  t.throws(() => new AllowList(['10.0.0.0/40']), TypeError);
});

function command(field: number, sopClass: string, extra: Array<readonly [number, { us: number } | { ui: string }]> = []): ReturnType<typeof decodeCommandSet> {
  return decodeCommandSet(buildCommandSet([
    [CommandTag.CommandField, { us: field }], [CommandTag.MessageId, { us: 3 }], [CommandTag.AffectedSopClassUid, { ui: sopClass }],
    [CommandTag.CommandDataSetType, { us: field === CommandField.CStoreRq ? 0 : NO_DATA_SET }], ...extra,
  ]));
}

t.test('outbound guard: C-STORE and C-ECHO pass, anything else is answered 0x0124 or aborted', async (t) => {
  t.match(decideOutbound(command(CommandField.CStoreRq, CT, [[CommandTag.AffectedSopInstanceUid, { ui: '1.2.3' }]]), CT), { kind: 'allow', action: 'store' });
  t.match(decideOutbound(command(CommandField.CEchoRq, '1.2.840.10008.1.1'), '1.2.840.10008.1.1'), { kind: 'allow', action: 'echo' });
  const find = decideOutbound(command(CommandField.CFindRq, FIND), FIND);
  t.match(find, { kind: 'refuse', action: 'search', reason: 'only-store-and-echo-outbound' });
  if (find.kind === 'refuse') t.match(decodeCommandSet(find.response), { commandField: CommandField.CFindRq | 0x8000, status: 0x0124, messageIdBeingRespondedTo: 3 });
  t.match(decideOutbound(command(CommandField.CMoveRq, FIND), FIND), { kind: 'refuse', action: 'move' });
  t.match(decideOutbound(command(CommandField.NActionRq, '1.2.840.10008.1.20.1'), '1.2.840.10008.1.20.1'), { kind: 'refuse', action: 'n-services' });
  t.match(decideOutbound(command(CommandField.CStoreRq, CT), '1.2.840.10008.5.1.4.1.1.7'), { kind: 'refuse', reason: 'sop-class-mismatch' }, 'a C-STORE whose SOP class is not its context\'s');
  t.throws(() => decideOutbound(command(CommandField.CCancelRq, FIND), FIND), PduError, 'C-CANCEL has no response: A-ABORT');
  t.throws(() => decideOutbound(command(0x0777, FIND), FIND), PduError, 'an unknown command field: A-ABORT');
  t.match(decideOutbound(command(CommandField.CStoreRq | 0x8000, CT), CT), { kind: 'pass', reason: 'response' });
});

t.test('check-config reports the relay and its unreadable TLS files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-relay-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ca = createCa({ commonName: 'site CA' });
  const gw = issueCertificate(ca, { commonName: 'gw', usage: 'client' });
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  writeFileSync(join(dir, 'gw.crt'), gw.certPem);
  writeFileSync(join(dir, 'gw.key'), gw.keyPem);
  writeFileSync(join(dir, 'not-pem.key'), 'not a key');
  const good = { ca: join(dir, 'ca.crt'), cert: join(dir, 'gw.crt'), key: join(dir, 'gw.key') };
  const write = (destinations: Record<string, unknown>): string => {
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, stringify({
      tls: { autoGenerate: true, cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), clientCa: join(dir, 'client-ca.crt') },
      users: { file: join(dir, 'users.yaml') }, devices: { file: join(dir, 'devices.yaml') },
      relay: { listen: { host: '10.0.0.2', port: 11112 }, allowFrom: ['10.0.0.5'], destinations },
    }));
    return file;
  };
  const check = async (file: string): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await checkConfigCommand(['--config', file, '--offline'], (s) => { out += `${s}\n`; }, (s) => { err += `${s}\n`; });
    return { code, out, err };
  };
  const ok = await check(write({ REMOTEWS: { host: 'ws.example.org', port: 2762, tls: good } }));
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /relay: on 10\.0\.0\.2:11112 \(cleartext, from 10\.0\.0\.5 only\) to REMOTEWS → ws\.example\.org:2762, over TLS/);
  const bad = await check(write({
    REMOTEWS: { host: 'ws.example.org', port: 2762, tls: { ...good, key: join(dir, 'not-pem.key') } },
    OTHER: { host: 'o.example.org', port: 104, tls: { ...good, ca: join(dir, 'missing.crt') } },
  }));
  t.equal(bad.code, 1);
  t.match(bad.err, /relay\.destinations\.REMOTEWS\.tls: the CA, certificate or key is not usable PEM/);
  t.match(bad.err, /relay\.destinations\.OTHER\.tls\.ca: cannot read .*missing\.crt/);
});
