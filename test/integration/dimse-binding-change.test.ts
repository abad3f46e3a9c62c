// Attacks (issue 12 §3, review): an open association keeps what admitted it. A device moved to a role with
// fewer rights, losing a C-MOVE destination or re-bound to another subject CN, a device or user whose calling AE titles no longer include the
// one the association used, or a role whose AE titles no longer do: the association must end at its next
// re-check, as it does for a user whose role changed, not keep the old rights until it idles out or reaches
// maxAssociationHours (these failed before the fix). Regressions: a user moved to another role or removed; an
// HTTP session token presented as a DIMSE token.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parse, stringify } from 'yaml';
import { PduType } from '../../src/dicom/constants.js';
import { issueCertificate } from '../../src/tls/issue.js';
import { issueClient, prepareCa } from '../helpers/certs.js';
import { startGateway, type TestGateway, type TestUser } from '../helpers/gateway.js';
import { startOrthanc } from '../helpers/orthanc.js';
import { RawAssociation } from '../helpers/raw-association.js';
import { GATEWAY_BIN } from '../helpers/replica.js';
import { run, waitFor } from '../helpers/tools.js';

const RECHECK_MS = 150;
/** How long a test waits for an A-ABORT (many re-check intervals); the control waits as long for none. */
const ABORT_WAIT_MS = 5_000;
const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const CONTEXTS = [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }];

async function nextPdu(a: RawAssociation): Promise<number | 'none' | 'closed'> {
  try {
    return (await a.next(ABORT_WAIT_MS)).type;
  } catch (err) {
    return (err as Error).message === 'connection closed' ? 'closed' : 'none';
  }
}

async function expectAborted(t: Test, gw: TestGateway, a: RawAssociation, principal: string, detail: RegExp): Promise<void> {
  t.equal(await nextPdu(a), PduType.Abort, 'the gateway sends A-ABORT');
  const seen = await waitFor(() => gw.auditEvents('dicom.association').find((e) =>
    e.principal === principal && e.decision === 'deny' && e.reason === 'principal-no-longer-valid'), 2000).catch(() => undefined);
  t.ok(seen, 'audited as principal-no-longer-valid');
  t.match(seen?.detail, detail, `with the reason: ${String(seen?.detail)}`);
  a.destroy();
}

function editYaml(file: string, change: (doc: any) => void): void {
  const doc = parse(readFileSync(file, 'utf8')) as unknown;
  change(doc);
  writeFileSync(file, stringify(doc));
}

t.test('an open association ends when the principal\'s role or calling AE titles change', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc, dicom: true, prepare: prepareCa, config: { tls: { autoGenerate: false } }, gatewayOptions: { revalidateMs: RECHECK_MS } });
  t.teardown(() => gw.stop());
  const devicesFile = join(gw.dir, 'config/devices.yaml');
  const pem = (files: { cert: string; key: string }) => ({ cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') });
  const openAsDevice = (files: { cert: string; key: string }, callingAe: string) =>
    RawAssociation.open({ port: gw.dicomPort, ca: gw.caPem, callingAe, contexts: CONTEXTS, ...pem(files) });
  const openAsUser = async (u: TestUser, callingAe: string) => {
    gw.clock.advance(30_000);
    const code = await gw.code(u);
    return RawAssociation.open({
      port: gw.dicomPort, ca: gw.caPem, callingAe, contexts: CONTEXTS,
      userIdentity: { type: 2, positiveResponseRequested: false, primary: Buffer.from(u.username), secondary: Buffer.from(`${u.password}${code}`) },
    });
  };

  await t.test('a device moved to another role (devices file, reload)', async (t) => {
    const ct = await issueClient(gw.dir, 'ct-role', 'technologist', ['CTROLE']);
    await gw.gateway.reload();
    const a = await openAsDevice(ct.files, 'CTROLE');
    t.equal(await a.echo(1, 1), 0, 'C-ECHO as a technologist');
    editYaml(devicesFile, (d) => { d.devices['ct-role'].role = 'viewer'; });
    await gw.gateway.reload();
    await expectAborted(t, gw, a, 'ct-role', /role-changed/);
  });

  await t.test('a device whose AE titles no longer include the calling AE of the association', async (t) => {
    const ct = await issueClient(gw.dir, 'ct-ae', 'technologist', ['CTAE']);
    await gw.gateway.reload();
    const a = await openAsDevice(ct.files, 'CTAE');
    t.equal(await a.echo(1, 1), 0);
    editYaml(devicesFile, (d) => { d.devices['ct-ae'].aeTitles = ['CTAE2']; });
    await gw.gateway.reload();
    await expectAborted(t, gw, a, 'ct-ae', /calling-ae-not-allowed/);
  });

  await t.test('a device whose C-MOVE destinations were narrowed', async (t) => {
    const ct = await issueClient(gw.dir, 'ct-move', 'technologist', ['CTMOVE']);
    editYaml(devicesFile, (d) => { d.devices['ct-move'].moveDestinations = ['WS1', 'WS2']; });
    await gw.gateway.reload();
    const a = await openAsDevice(ct.files, 'CTMOVE');
    t.equal(await a.echo(1, 1), 0);
    editYaml(devicesFile, (d) => { d.devices['ct-move'].moveDestinations = ['WS1']; });
    await gw.gateway.reload();
    await expectAborted(t, gw, a, 'ct-move', /move-destinations-changed/);
  });

  await t.test('a device bound by subjectCn and re-bound to another CN', async (t) => {
    const ca = { certPem: gw.caPem, keyPem: readFileSync(join(gw.dir, 'certs/ca.key'), 'utf8') };
    const c = issueCertificate(ca, { commonName: 'cn-dev', usage: 'client' });
    editYaml(devicesFile, (d) => { d.devices['cn-dev'] = { role: 'technologist', subjectCn: 'cn-dev', aeTitles: ['CNDEV'] }; });
    await gw.gateway.reload();
    const a = await RawAssociation.open({ port: gw.dicomPort, ca: gw.caPem, callingAe: 'CNDEV', contexts: CONTEXTS, cert: c.certPem, key: c.keyPem });
    t.equal(await a.echo(1, 1), 0, 'C-ECHO as cn-dev');
    editYaml(devicesFile, (d) => { d.devices['cn-dev'].subjectCn = 'cn-dev-2'; });
    await gw.gateway.reload();
    await expectAborted(t, gw, a, 'cn-dev', /^certificate-changed$/);
  });

  await t.test('a user whose AE titles no longer include the calling AE (users set-ae)', async (t) => {
    const u = await gw.addUser('ae-user', 'technologist', undefined, { aeTitles: ['WSA'] });
    const a = await openAsUser(u, 'WSA');
    t.equal(await a.echo(1, 1), 0);
    const r = await run(process.execPath, [GATEWAY_BIN, 'users', 'set-ae', u.username, '--ae', 'WSB', '--config', gw.configFile], { cwd: gw.dir, timeoutMs: 60_000 });
    t.equal(r.code, 0, r.stderr);
    await gw.gateway.reload();
    await expectAborted(t, gw, a, u.username, /calling-ae-not-allowed/);
  });

  await t.test('a role whose AE titles no longer include the calling AE (gateway.yaml, reload)', async (t) => {
    editYaml(gw.configFile, (c) => { c.roles.radiologist = { actions: ['echo', 'search', 'retrieve', 'move'], aeTitles: ['RADA', 'RADB'] }; });
    await gw.gateway.reload();
    const u = await gw.addUser('rad-user', 'radiologist');
    const a = await openAsUser(u, 'RADA');
    t.equal(await a.echo(1, 1), 0);
    editYaml(gw.configFile, (c) => { c.roles.radiologist.aeTitles = ['RADB']; });
    await gw.gateway.reload();
    await expectAborted(t, gw, a, u.username, /calling-ae-not-allowed/);
  });

  const openWithToken = async (u: TestUser, callingAe: string): Promise<{ a: RawAssociation; token: string }> => {
    const session = await gw.login(u);
    const r = await gw.request('POST', '/auth/dimse-token', { headers: { authorization: `Bearer ${session}` } });
    const token = r.json().token as string;
    const a = await RawAssociation.open({
      port: gw.dicomPort, ca: gw.caPem, callingAe, contexts: CONTEXTS,
      userIdentity: { type: 5, positiveResponseRequested: false, primary: Buffer.from(token), secondary: Buffer.alloc(0) },
    });
    return { a, token };
  };
  const usersFile = join(gw.dir, 'config/users.yaml');

  for (const [what, change, detail] of [
    ['moved to another role (users file, reload)', (doc: any, name: string) => { doc.users[name].role = 'viewer'; }, /^role-changed$/],
    ['removed from the users file (reload)', (doc: any, name: string) => { delete doc.users[name]; }, /^user-unknown$/],
  ] as const) {
    await t.test(`a user ${what}: the open token and type-2 associations end, the token opens no new one`, async (t) => {
      const name = `u-${what.split(' ')[0] as string}`;
      const u = await gw.addUser(name, 'technologist');
      const viaToken = await openWithToken(u, 'WS1');
      const viaPasscode = await openAsUser(u, 'WS2');
      t.equal(await viaToken.a.echo(1, 1), 0, 'C-ECHO with a DIMSE token');
      t.equal(await viaPasscode.echo(1, 1), 0, 'C-ECHO with password + code');
      editYaml(usersFile, (doc) => change(doc, name));
      await gw.gateway.reload();
      await expectAborted(t, gw, viaToken.a, name, detail);
      t.equal(await nextPdu(viaPasscode), PduType.Abort, 'the type-2 association is aborted too');
      viaPasscode.destroy();
      const again = RawAssociation.open({
        port: gw.dicomPort, ca: gw.caPem, callingAe: 'WS1', contexts: CONTEXTS,
        userIdentity: { type: 5, positiveResponseRequested: false, primary: Buffer.from(viaToken.token), secondary: Buffer.alloc(0) },
      });
      if (what.startsWith('moved')) {
        const b = await again;
        t.not(await b.echo(1, 1), 0, 'a new association with the token has the new role: a viewer may not echo');
        b.destroy();
      } else {
        await t.rejects(again, /PDU type 3/, 'the token opens no new association (A-ASSOCIATE-RJ)');
      }
    });
  }

  await t.test('an HTTP session token is not a DIMSE token (its audience), even while the session lives', async (t) => {
    const u = await gw.addUser('aud-user', 'technologist');
    const session = await gw.login(u);
    await t.rejects(RawAssociation.open({
      port: gw.dicomPort, ca: gw.caPem, callingAe: 'WS1', contexts: CONTEXTS,
      userIdentity: { type: 5, positiveResponseRequested: false, primary: Buffer.from(session), secondary: Buffer.alloc(0) },
    }), /PDU type 3/, 'A-ASSOCIATE-RJ');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', userIdentityType: 5 });
    t.equal((await gw.request('GET', '/auth/session', { headers: { authorization: `Bearer ${session}` } })).status, 200, 'the session itself is alive');
  });

  await t.test('control: changes to other principals, and AE titles added, leave an association alone', async (t) => {
    const ct = await issueClient(gw.dir, 'ct-keep', 'technologist', ['CTKEEP']);
    await gw.gateway.reload();
    const a = await openAsDevice(ct.files, 'CTKEEP');
    t.equal(await a.echo(1, 1), 0);
    editYaml(devicesFile, (d) => { d.devices['ct-keep'].aeTitles = ['CTKEEP', 'CTKEEP2']; });
    await gw.gateway.reload();
    t.equal(await nextPdu(a), 'none', 'no A-ABORT');
    t.equal(await a.echo(1, 2), 0, 'C-ECHO still works');
    a.destroy();
  });
});
