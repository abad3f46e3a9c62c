// C-GET and C-MOVE through the DIMSE guard: dcmtk getscu/movescu behind a client-side stunnel, and dcmjs-dimse with user identity.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { datasetAfterMeta, makeInstance, writeInstance } from '../helpers/instances.js';
import { uploadInstance } from '../helpers/orthanc.js';
import { run } from '../helpers/tools.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';
import { dimse, runScu } from '../dicom/helpers/dimse-client.js';

const { CFindRequest, CGetRequest, CMoveRequest, CStoreRequest, CEchoRequest } = dimse.requests;
const { Status, UserIdentityType } = dimse.constants;

function files(dir: string): string[] {
  return readdirSync(dir).filter((f) => !f.startsWith('.'));
}

t.test('C-GET and C-MOVE through the DIMSE guard', async (t) => {
  const env = await startDicomEnv({
    moveDestinations: ['STORESCP', 'EVILSCP'],
    roles: {
      mover: { actions: ['echo', 'search', 'retrieve', 'move'], moveDestinations: ['STORESCP'] },
      viewer: ['search', 'retrieve'],
      workstation: ['echo', 'search', 'retrieve', 'move'],
    },
  });
  t.teardown(() => env.stop());
  const { orthanc, gw, port } = env;
  const ws = await env.addDevice('reading-ws-1', { role: 'workstation', aeTitles: ['WS01'], moveDestinations: ['STORESCP'] });
  const rita = await gw.addUser('rita', 'mover');
  const vera = await gw.addUser('vera', 'viewer');
  const inst = makeInstance({ pixelBytes: 128 * 1024 });
  await uploadInstance(orthanc, inst.buffer);
  const study = ['-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${inst.studyUid}`];
  const tunnel = await env.stunnel(ws);
  const viaTunnel = ['127.0.0.1', String(tunnel.port)];

  await t.test('getscu over a client-side stunnel with the device certificate', async (t) => {
    const out = join(env.dir, 'get-out');
    await run('mkdir', ['-p', out]);
    const get = await run('getscu', ['-aet', 'WS01', '-aec', 'GATEWAY', '-S', ...study, '-od', out, ...viaTunnel]);
    t.equal(get.code, 0, `getscu: ${get.stderr}`);
    const got = files(out);
    t.equal(got.length, 1, 'one instance retrieved');
    t.ok(datasetAfterMeta(readFileSync(join(out, got[0] as string))).equals(datasetAfterMeta(inst.buffer)), 'byte-identical data set');
    t.match(gw.auditEvents('dicom.command').at(-1), { command: 'C-GET-RQ', decision: 'allow', principal: 'reading-ws-1', action: 'retrieve' });
  });

  await t.test('movescu to an allowed destination, then to one outside the allow-list', async (t) => {
    const scp = await env.storescp('STORESCP');
    const evil = await env.storescp('EVILSCP');
    const move = await run('movescu', ['-aet', 'WS01', '-aem', 'STORESCP', '-aec', 'GATEWAY', '-S', ...study, ...viaTunnel]);
    t.equal(move.code, 0, `movescu: ${move.stderr}`);
    const moved = files(scp.dir);
    t.equal(moved.length, 1, 'storescp received the instance');
    t.ok(datasetAfterMeta(readFileSync(join(scp.dir, moved[0] as string))).equals(datasetAfterMeta(inst.buffer)));
    const movesBefore = (await orthanc.dicomCommands()).filter((c) => c.type === 'Move').length;
    const refused = await run('movescu', ['-v', '-aet', 'WS01', '-aem', 'EVILSCP', '-aec', 'GATEWAY', '-S', ...study, ...viaTunnel]);
    t.match(refused.stderr + refused.stdout, /0x124|Not ?Authori[sz]ed/i, 'C-MOVE-RSP with status 0x0124');
    t.equal(files(evil.dir).length, 0, 'nothing reached the other destination');
    t.equal((await orthanc.dicomCommands()).filter((c) => c.type === 'Move').length, movesBefore, 'Orthanc never saw the refused C-MOVE');
    t.match(gw.auditEvents('dicom.command').filter((e) => e.command === 'C-MOVE-RQ'), [
      { decision: 'allow', moveDestination: 'STORESCP' },
      { decision: 'deny', moveDestination: 'EVILSCP', reason: 'move-destination-not-allowed' },
    ]);
  });

  await t.test('dcmjs-dimse with user identity type 2: C-FIND, C-GET, C-MOVE', async (t) => {
    const identity = async (): Promise<{ type: number; primaryField: string; secondaryField: string; positiveResponseRequested: boolean }> => ({
      type: UserIdentityType.UsernameAndPasscode, primaryField: 'rita', secondaryField: await env.passcode(rita), positiveResponseRequested: true,
    });
    const find = CFindRequest.createStudyFindRequest({ StudyInstanceUID: inst.studyUid, PatientID: '' });
    const r1 = await runScu([find], { port, callingAe: 'RITA', ca: env.caPem, userIdentity: await identity() });
    t.ok(r1.accepted, `accepted: ${r1.errors.join()}`);
    t.ok(r1.responses.some((r) => r.status === Status.Pending && r.dataset?.['StudyInstanceUID'] === inst.studyUid), 'the study is found');
    const r2 = await runScu([CGetRequest.createStudyGetRequest(inst.studyUid)], { port, callingAe: 'RITA', ca: env.caPem, userIdentity: await identity() });
    t.equal(r2.stored.length, 1, 'one C-STORE sub-operation came back through the gateway');
    t.equal(r2.responses.at(-1)?.status, Status.Success);
    const r3 = await runScu([CMoveRequest.createStudyMoveRequest('STORESCP', inst.studyUid)], { port, callingAe: 'RITA', ca: env.caPem, userIdentity: await identity() });
    t.equal(r3.responses.at(-1)?.status, Status.Success, 'the role allows STORESCP');
    const r4 = await runScu([CMoveRequest.createStudyMoveRequest('EVILSCP', inst.studyUid)], { port, callingAe: 'RITA', ca: env.caPem, userIdentity: await identity() });
    t.equal(r4.responses.at(-1)?.status, 0x0124, 'not in the role allow-list');
  });

  await t.test('a read-only role is refused C-STORE and then C-FIND works on the same association', async (t) => {
    const fresh = makeInstance();
    const file = await writeInstance(env.dir, fresh);
    const before = (await orthanc.dicomCommands()).length;
    const store = new CStoreRequest(file);
    const find = CFindRequest.createStudyFindRequest({ StudyInstanceUID: inst.studyUid, PatientID: '' });
    const echo = new CEchoRequest();
    const r = await runScu([store, find, echo], {
      port, callingAe: 'VERA', ca: env.caPem,
      userIdentity: { type: UserIdentityType.UsernameAndPasscode, primaryField: 'vera', secondaryField: await env.passcode(vera) },
    });
    t.ok(r.accepted);
    t.match(r.responses[0], { request: 0, status: 0x0124, comment: 'Refused by gateway: role-lacks-action' }, 'C-STORE refused by the gateway');
    t.ok(r.responses.some((x) => x.request === 1 && x.status === Status.Pending && x.dataset?.['StudyInstanceUID'] === inst.studyUid), 'C-FIND answered on the same association');
    t.match(r.responses.at(-1), { request: 2, status: 0x0124 }, 'viewer lacks echo too');
    const cmds = (await orthanc.dicomCommands()).slice(before);
    t.same(cmds.map((c) => c.type), ['Find'], 'Orthanc saw only the C-FIND');
    const assocs = gw.auditEvents('dicom.association').filter((e) => e.principal === 'vera' && e.decision === 'allow');
    const id = assocs.at(-1)?.associationId;
    t.same(gw.auditEvents('dicom.command').filter((e) => e.associationId === id).map((e) => `${e.command}:${e.decision}`), ['C-STORE-RQ:deny', 'C-FIND-RQ:allow', 'C-ECHO-RQ:deny']);
  });

  await t.test('dcmjs-dimse with user identity type 5 (JWT) and with mTLS', async (t) => {
    const session = await gw.login(rita);
    const issued = await gw.request('POST', '/auth/dimse-token', { headers: { authorization: `Bearer ${session}` } });
    const r = await runScu([CGetRequest.createStudyGetRequest(inst.studyUid)], {
      port, callingAe: 'RITA', ca: env.caPem,
      userIdentity: { type: UserIdentityType.Jwt, primaryField: issued.json().token, positiveResponseRequested: true },
    });
    t.equal(r.stored.length, 1, 'C-GET with a JWT');
    const m = await runScu([CFindRequest.createStudyFindRequest({ StudyInstanceUID: inst.studyUid })], { port, callingAe: 'WS01', ca: env.caPem, cert: ws });
    t.ok(m.responses.some((x) => x.status === Status.Pending), 'C-FIND with the device certificate');
  });
});
