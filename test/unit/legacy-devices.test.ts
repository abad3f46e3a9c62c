// Unit tests for the legacy port's pieces: CIDR lists, the legacyDevices config checks, the capped role table, admission.

import t from 'tap';
import { buildConfig } from '../../src/config/load.js';
import type { AssociateRq } from '../../src/dicom/associate-parse.js';
import { DICOM_APPLICATION_CONTEXT } from '../../src/dicom/constants.js';
import { admitLegacy } from '../../src/dicom/legacy-admission.js';
import { LegacyDevices, legacyRoles } from '../../src/dicom/legacy-devices.js';
import { isGatewayError } from '../../src/errors.js';
import { authorize } from '../../src/policy/authorize.js';
import { CidrList, cidrProblem } from '../../src/util/cidr-list.js';

function problems(raw: unknown): string[] {
  try {
    buildConfig(raw, { env: {} });
  } catch (err) {
    if (isGatewayError(err, 'ERR_CONFIG_INVALID')) return (err.detail?.['problems'] as string[] | undefined) ?? [err.message];
    throw err;
  }
  return [];
}

t.test('CIDR lists: IPv4, IPv6, single addresses, IPv4-mapped clients', async (t) => {
  const l = new CidrList(['10.20.30.0/24', '192.0.2.7', '2001:db8:1::/48', '::1']);
  t.ok(l.has('10.20.30.255'));
  t.notOk(l.has('10.20.31.0'));
  t.ok(l.has('192.0.2.7'));
  t.notOk(l.has('192.0.2.8'));
  t.ok(l.has('::ffff:10.20.30.4'), 'a dual-stack listener reports IPv4 clients as mapped addresses');
  t.ok(l.has('2001:db8:1:ffff::1'));
  t.notOk(l.has('2001:db8:2::1'));
  t.ok(l.has('::1'));
  t.notOk(l.has('not-an-address'));
  t.equal(cidrProblem('10.0.0.0/33'), 'the prefix length must be 0–32');
  t.match(cidrProblem('ct.example.org'), /not an IP address or a CIDR range/);
  t.match(cidrProblem('fe80::1%eth0'), /zone/);
  t.equal(cidrProblem('2001:db8::/128'), undefined);
});

t.test('config: legacyDevices and listen.dicomLegacy', async (t) => {
  const ok = buildConfig({ listen: { dicomLegacy: { host: '10.0.0.5', port: 11112 } }, legacyDevices: { 'old-ct': { addresses: ['10.20.30.0/24'], aeTitles: ['OLDCT'] } } }, { env: {} });
  t.same(ok.listen.dicomLegacy, { host: '10.0.0.5', port: 11112 });
  t.equal(ok.legacyDevices['old-ct']?.role, undefined, 'no role: legacy-modality applies');
  t.equal(buildConfig({}, { env: {} }).listen.dicomLegacy, undefined, 'off by default');
  t.same(buildConfig({}, { env: {} }).legacyDevices, {});
  t.match(problems({ listen: { dicomLegacy: { port: 11112 } } }), [/listen.dicomLegacy: set, but legacyDevices is empty/]);
  t.match(problems({ legacyDevices: { x: { addresses: ['10.0.0.0/40'], aeTitles: ['X'] } } }), [/legacyDevices.x.addresses\[0\]: "10.0.0.0\/40" the prefix length/]);
  t.match(problems({ legacyDevices: { x: { addresses: ['10.0.0.1'], aeTitles: ['X'], role: 'radiologist' } } }), [/legacyDevices.x.role: role "radiologist" allows search, retrieve, move; a legacy device may only echo and store/]);
  t.match(problems({ legacyDevices: { x: { addresses: ['10.0.0.1'], aeTitles: ['X'], role: 'nosuch' } } }), [/legacyDevices.x.role: no such role/]);
  t.match(problems({ legacyDevices: { x: { addresses: ['10.0.0.1'], aeTitles: [] } } }), [/legacyDevices.x.aeTitles/]);
  t.match(problems({ legacyDevices: { x: { addresses: ['10.0.0.1'], aeTitles: ['X'], password: 'p' } } }), [/legacyDevices.x.password: unknown option/]);
  t.match(problems({ roles: { 'legacy-modality': ['echo', 'store', 'search'] }, legacyDevices: { x: { addresses: ['10.0.0.1'], aeTitles: ['X'] } } }), [/roles.legacy-modality: allows search/]);
  t.same(problems({ roles: { 'legacy-modality': { actions: ['store'], storeSopClasses: ['1.2.840.10008.5.1.4.1.1.2'] } }, legacyDevices: { x: { addresses: ['10.0.0.1'], aeTitles: ['X'] } } }), [], 'a narrower legacy-modality role is fine');
});

t.test('the role table on the legacy port is capped to echo and store', async (t) => {
  const roles = buildConfig({ roles: { radiologist: ['echo', 'search', 'retrieve', 'move'], technologist: ['echo', 'store'] } }, { env: {} }).roles;
  const capped = legacyRoles(roles);
  t.same(capped['radiologist']?.actions, ['echo'], 'a role reloaded past the config checks still cannot search on this port');
  t.same(capped['legacy-modality']?.actions, ['echo', 'store'], 'the built-in default');
  t.equal(legacyRoles(roles), capped, 'memoised per role table');
  const p = { id: 'x', kind: 'legacy-device' as const, role: 'legacy-modality', method: 'source-address' as const };
  t.match(authorize(capped, p, { action: 'search' }), { allowed: false, reason: 'role-lacks-action' });
  t.match(authorize(capped, p, { action: 'store' }), { allowed: true });
});

t.test('admission: AE titles per address, User Identity refused', async (t) => {
  const devices = new LegacyDevices({ a: { addresses: ['10.0.0.0/8'], aeTitles: ['CT1 '] }, b: { addresses: ['10.1.0.0/16'], aeTitles: ['US1'], role: 'technologist' } });
  t.same(devices.from('10.1.2.3').map((d) => d.name), ['a', 'b']);
  t.same(devices.from('192.0.2.1'), []);
  const rq = (callingAe: string, userIdentity?: AssociateRq['userIdentity']): AssociateRq => ({
    protocolVersion: 1, calledAe: 'GATEWAY', callingAe, applicationContext: DICOM_APPLICATION_CONTEXT, presentationContexts: [], maxPduLength: 16384, userIdentity,
  } as unknown as AssociateRq);
  const admitted = admitLegacy(rq('US1'), devices.from('10.1.2.3'));
  t.match(admitted, { ok: true, via: 'legacy-address', principal: { id: 'b', kind: 'legacy-device', role: 'technologist', method: 'source-address' } });
  t.match(admitLegacy(rq('CT1'), devices.from('10.9.9.9')), { ok: true, principal: { id: 'a', role: 'legacy-modality' } }, 'AE titles compared without padding');
  t.match(admitLegacy(rq('US1'), devices.from('10.9.9.9')), { ok: false, reason: 'calling-ae-not-allowed', rejection: { result: 1, source: 1, reason: 3 } });
  const pw = admitLegacy(rq('CT1', { type: 2, positiveResponseRequested: false, primary: Buffer.from('theo'), secondary: Buffer.from('secret123456') }), devices.from('10.9.9.9'));
  t.match(pw, { ok: false, reason: 'user-identity-on-cleartext-port', named: 'theo', alert: 'dicom.cleartext-credential', rejection: { result: 1, source: 1, reason: 1 } });
  t.notOk(JSON.stringify(pw).includes('secret123456'), 'the secret goes nowhere');
  const jwt = admitLegacy(rq('CT1', { type: 5, positiveResponseRequested: false, primary: Buffer.from('eyJhbGciOi.x.y'), secondary: Buffer.alloc(0) }), devices.from('10.9.9.9'));
  t.match(jwt, { ok: false, reason: 'user-identity-on-cleartext-port', alert: 'dicom.cleartext-credential' });
  t.notOk('named' in jwt, 'a token is not named');
  const user = admitLegacy(rq('CT1', { type: 1, positiveResponseRequested: false, primary: Buffer.from('theo'), secondary: Buffer.alloc(0) }), devices.from('10.9.9.9'));
  t.match(user, { ok: false, reason: 'user-identity-on-cleartext-port' });
  t.notOk('alert' in user, 'a bare username is no secret: refused without an alert');
});
