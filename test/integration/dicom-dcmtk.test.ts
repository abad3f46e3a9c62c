// The DIMSE guard against real parts: Orthanc behind the gateway, dcmtk clients over TLS with each identity kind.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { datasetAfterMeta, makeInstance, writeInstance } from '../helpers/instances.js';
import { getInstanceFile } from '../helpers/orthanc.js';
import { run } from '../helpers/tools.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';

t.test('dcmtk through the DIMSE guard', async (t) => {
  const env = await startDicomEnv({
    roles: {
      radiologist: ['echo', 'search', 'retrieve', 'move'],
      technologist: ['echo', 'store', 'search'],
      viewer: ['search', 'retrieve'],
      modality: ['echo', 'store', 'search'],
    },
  });
  t.teardown(() => env.stop());
  const { orthanc, gw, port } = env;
  const peer = ['127.0.0.1', String(port)];
  const ct = await env.addDevice('ct-scanner-1', { role: 'modality', aeTitles: ['CT01'] });
  const theo = await gw.addUser('theo', 'technologist');
  const vera = await gw.addUser('vera', 'viewer');

  await t.test('mTLS device: C-ECHO, C-STORE (read back byte-identical), C-FIND', async (t) => {
    const echo = await run('echoscu', [...env.tls(ct), '-aet', 'CT01', '-aec', 'GATEWAY', ...peer]);
    t.equal(echo.code, 0, `echoscu: ${echo.stderr}`);
    const inst = makeInstance({ pixelBytes: 256 * 1024 });
    const file = await writeInstance(env.dir, inst);
    const store = await run('storescu', [...env.tls(ct), '-aet', 'CT01', '-aec', 'GATEWAY', ...peer, file]);
    t.equal(store.code, 0, `storescu: ${store.stderr}`);
    const stored = await getInstanceFile(orthanc, inst.sopInstanceUid);
    t.ok(stored !== undefined, 'Orthanc has the instance');
    t.ok(stored !== undefined && datasetAfterMeta(stored).equals(datasetAfterMeta(inst.buffer)), 'data set byte-identical after group 0002');
    const find = await run('findscu', [...env.tls(ct), '-aet', 'CT01', '-aec', 'GATEWAY', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${inst.studyUid}`, '-k', 'PatientID', '-X', '-od', env.dir, ...peer]);
    t.equal(find.code, 0, `findscu: ${find.stderr}`);
    const rsp = await run('dcmdump', [join(env.dir, 'rsp0001.dcm')]);
    t.match(rsp.stdout, inst.studyUid, 'the study is found');
    const cmds = await orthanc.dicomCommands();
    t.same(cmds.map((c) => c.type), ['Echo', 'Store', 'Find'], 'Orthanc got exactly these requests');
    t.ok(cmds.every((c) => c.callingAet === 'CT01' && c.calledAet === 'ORTHANC'), 'calling AE passed, called AE rewritten');
    const events = gw.auditEvents('dicom.association').filter((e) => e.decision === 'allow');
    t.match(events[0], { principal: 'ct-scanner-1', method: 'mtls', callingAe: 'CT01', calledAe: 'GATEWAY', certFingerprint: ct.fingerprint });
    t.match(gw.auditEvents('dicom.command').map((e) => `${e.command}:${e.decision}`), ['C-ECHO-RQ:allow', 'C-STORE-RQ:allow', 'C-FIND-RQ:allow']);
    t.match(gw.auditEvents('dicom.command')[1], { sopClassUid: inst.sopClassUid, sopInstanceUid: inst.sopInstanceUid });
  });

  await t.test('refused associations never reach Orthanc', async (t) => {
    const before = await orthanc.activity();
    const wrongAe = await run('echoscu', [...env.tls(ct), '-aet', 'MR99', '-aec', 'GATEWAY', ...peer]);
    t.not(wrongAe.code, 0);
    t.match(wrongAe.stderr + wrongAe.stdout, /Association Rejected/);
    t.match(wrongAe.stderr + wrongAe.stdout, /Calling AE Title Not Recognized/i);
    const anonymous = await run('echoscu', [...env.tls(), '-aet', 'CT01', '-aec', 'GATEWAY', ...peer]);
    t.not(anonymous.code, 0, 'TLS without a certificate and without user identity');
    t.match(anonymous.stderr + anonymous.stdout, /Association Rejected[\s\S]*Rejected Permanent/);
    const disabled = await env.addDevice('ct-scanner-old', { role: 'modality', aeTitles: ['CT02'], disabled: true });
    const off = await run('echoscu', [...env.tls(disabled), '-aet', 'CT02', '-aec', 'GATEWAY', ...peer]);
    t.not(off.code, 0, 'a disabled device');
    const plain = await run('echoscu', ['-aet', 'CT01', '-aec', 'GATEWAY', '-ta', '5', ...peer]);
    t.not(plain.code, 0, 'plain TCP to the TLS port');
    const wrongCode = await run('storescu', [...env.tls(), '--user', 'theo', '--password', `${theo.password}000000`, '-aet', 'WS1', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, makeInstance())]);
    t.not(wrongCode.code, 0, 'wrong TOTP code');
    t.match(wrongCode.stderr + wrongCode.stdout, /Association Rejected/);
    await new Promise((r) => setTimeout(r, 300));
    const after = await orthanc.activity();
    t.equal(after.dicomConnections, before.dicomConnections, 'Orthanc saw no connection');
    t.same(after.dicomCommands, before.dicomCommands);
    const denied = gw.auditEvents('dicom.association').filter((e) => e.decision === 'deny').map((e) => e.reason);
    t.match(denied, ['calling-ae-not-allowed', 'no-identity', 'device-disabled', 'wrong-totp'], 'the real reason of the refused user identity (its refusal class: bad-credentials)');
  });

  await t.test('user identity type 2: --user/--password (password + oathtool code) with a positive response', async (t) => {
    const inst = makeInstance();
    const file = await writeInstance(env.dir, inst);
    const store = await run('storescu', [...env.tls(), '--user', 'theo', '--password', await env.passcode(theo), '-rsp', '-aet', 'WS1', '-aec', 'GATEWAY', ...peer, file]);
    t.equal(store.code, 0, `storescu: ${store.stderr}`);
    t.ok(await getInstanceFile(orthanc, inst.sopInstanceUid), 'stored');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'allow', principal: 'theo', method: 'dicom-user-password-totp', userIdentityType: 2 });
  });

  await t.test('user identity type 5: --jwt with a DIMSE token from POST /auth/dimse-token', async (t) => {
    const session = await gw.login(theo);
    const issued = await gw.request('POST', '/auth/dimse-token', { headers: { authorization: `Bearer ${session}` } });
    t.equal(issued.status, 200, issued.text);
    const jwtFile = join(env.dir, 'dimse.jwt');
    writeFileSync(jwtFile, issued.json().token);
    const inst = makeInstance();
    const store = await run('storescu', [...env.tls(), '--jwt', jwtFile, '-rsp', '-aet', 'WS1', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, inst)]);
    t.equal(store.code, 0, `storescu --jwt: ${store.stderr}`);
    t.ok(await getInstanceFile(orthanc, inst.sopInstanceUid), 'stored');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'allow', principal: 'theo', method: 'dicom-user-jwt', userIdentityType: 5 });
    writeFileSync(jwtFile, session);
    const wrongAudience = await run('storescu', [...env.tls(), '--jwt', jwtFile, '-aet', 'WS1', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, makeInstance())]);
    t.not(wrongAudience.code, 0, 'an HTTP session token is not a DIMSE token');
  });

  await t.test('a read-only role: C-STORE refused with 0x0124, nothing stored', async (t) => {
    const inst = makeInstance();
    const before = (await orthanc.dicomCommands()).length;
    const store = await run('storescu', ['-d', ...env.tls(), '--user', 'vera', '--password', await env.passcode(vera), '-aet', 'WS2', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, inst)]);
    t.not(store.code, 0, 'storescu reports the failure');
    const out = store.stderr + store.stdout;
    // dcmtk 3.6.7 has no name for the PS3.7 C.5 general status 0x0124 and prints "Unknown Status: 0x124".
    t.match(out, /Received Store Response \(Unknown Status: 0x124\)|Refused: Not ?Authori[sz]ed/i, 'status 0x0124 received');
    t.match(out, /\(0000,0902\) LO \[Refused by gateway: role-lacks-action/, 'the Error Comment says why');
    t.equal(await getInstanceFile(orthanc, inst.sopInstanceUid), undefined, 'not in Orthanc');
    t.equal((await orthanc.dicomCommands()).length, before, 'Orthanc never saw the C-STORE');
    t.match(gw.auditEvents('dicom.command').at(-1), { command: 'C-STORE-RQ', decision: 'deny', reason: 'role-lacks-action', principal: 'vera', sopInstanceUid: inst.sopInstanceUid });
  });

  await t.test('secrets never reach the logs', async (t) => {
    const all = gw.rawLogs.join('\n');
    for (const secret of [theo.password, vera.password, theo.totpSecret]) t.notOk(all.includes(secret), 'no password or TOTP secret');
    t.notOk(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(all), 'no JWT');
  });
});
