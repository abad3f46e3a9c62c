// The audit trail of DICOM associations on real ones (dcmtk storescu and dcmjs-dimse through the
// gateway to Orthanc): one associationId on every event of an association (the auth.login /
// auth.token events of its user identity included), the calling AE on every event, a refused user
// association that names who was claimed, the identity type and the real reason; and calling AE
// titles bound to a user or a role, so that a user cannot present a modality's AE title.

import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { makeInstance, writeInstance } from '../helpers/instances.js';
import { run } from '../helpers/tools.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';
import { dimse, runScu } from '../dicom/helpers/dimse-client.js';

const { CEchoRequest } = dimse.requests;
const { UserIdentityType } = dimse.constants;

t.test('association audit and calling AE titles of users', async (t) => {
  const env = await startDicomEnv({
    roles: {
      technologist: ['echo', 'store', 'search'],
      // A role bound to its reading stations' AE titles.
      reader: { actions: ['echo', 'search'], aeTitles: ['READ1', 'READ2'] },
    },
  });
  t.teardown(() => env.stop());
  const { gw, port } = env;
  const peer = ['127.0.0.1', String(port)];
  const theo = await gw.addUser('theo', 'technologist');
  const wanda = await gw.addUser('wanda', 'technologist', undefined, { aeTitles: ['WS-WANDA'] });
  const rhea = await gw.addUser('rhea', 'reader');
  const type2 = async (user: { username: string } & Parameters<typeof env.passcode>[0]) => ({
    type: UserIdentityType.UsernameAndPasscode, primaryField: user.username, secondaryField: await env.passcode(user),
  });
  /** Every audit event of one association, by its id. */
  const eventsOf = (associationId: unknown) => gw.auditEvents().filter((e) => e.associationId === associationId);

  await t.test('type 2 (dcmtk storescu): auth.login, dicom.association and dicom.command share one associationId and carry the calling AE', async (t) => {
    const store = await run('storescu', [...env.tls(), '--user', 'theo', '--password', await env.passcode(theo), '-aet', 'WS-THEO', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, makeInstance())]);
    t.equal(store.code, 0, `storescu: ${store.stderr}`);
    const assoc = gw.auditEvents('dicom.association').at(-1);
    t.match(assoc, { decision: 'allow', principal: 'theo', callingAe: 'WS-THEO', userIdentityType: 2 });
    const id = assoc?.associationId;
    t.match(id, /^[0-9a-f]{12}$/);
    t.same(eventsOf(id).map((e) => `${String(e.event)}:${String(e.decision)}`), ['auth.login:allow', 'dicom.association:allow', 'dicom.command:allow']);
    for (const e of eventsOf(id)) t.equal(e.callingAe, 'WS-THEO', `${String(e.event)} carries the calling AE`);
    t.match(eventsOf(id)[0], { principal: 'theo', channel: 'dicom', reason: 'password-and-totp-valid' });
  });

  await t.test('type 5 (dcmjs-dimse, a DIMSE token): auth.token is an event of the association too', async (t) => {
    const session = await gw.login(theo);
    const issued = await gw.request('POST', '/auth/dimse-token', { headers: { authorization: `Bearer ${session}` } });
    const r = await runScu([new CEchoRequest()], { port, callingAe: 'WS-THEO', ca: env.caPem, userIdentity: { type: UserIdentityType.Jwt, primaryField: issued.json().token } });
    t.ok(r.accepted, r.errors.join());
    const id = gw.auditEvents('dicom.association').at(-1)?.associationId;
    t.same(eventsOf(id).map((e) => `${String(e.event)}:${String(e.reason)}`), ['auth.token:dimse-token-valid', 'dicom.association:accepted', 'dicom.command:role-allows']);
    t.match(eventsOf(id)[0], { principal: 'theo', method: 'dicom-user-jwt', callingAe: 'WS-THEO' });
  });

  await t.test('a refused user association names the principal claimed, the identity type and the real reason', async (t) => {
    const refusedWith = async (userIdentity: Parameters<typeof runScu>[1]['userIdentity'], callingAe = 'WS-X') => {
      const r = await runScu([new CEchoRequest()], { port, callingAe, ca: env.caPem, userIdentity });
      t.notOk(r.accepted, 'refused');
      const assoc = gw.auditEvents('dicom.association').at(-1) ?? {};
      return { r, assoc, events: eventsOf(assoc['associationId']) };
    };
    gw.clock.advance(30_000);
    const wrongCode = await refusedWith({ type: 2, primaryField: 'theo', secondaryField: `${theo.password}${(await gw.code(theo)) === '000000' ? '111111' : '000000'}` });
    t.match(wrongCode.assoc, { decision: 'deny', principal: 'theo', kind: 'user', userIdentityType: 2, reason: 'wrong-totp', refusal: 'bad-credentials', callingAe: 'WS-X' });
    t.same(wrongCode.r.rejected, { result: 1, source: 1, reason: 1 }, 'A-ASSOCIATE-RJ permanent, service user, no reason given');
    t.same(wrongCode.events.map((e) => `${String(e.event)}:${String(e.reason)}`), ['auth.login:wrong-totp', 'dicom.association:wrong-totp'], 'the login event is one of the association\'s');

    const wrongPassword = await refusedWith({ type: 2, primaryField: 'theo', secondaryField: `not-the-password${await gw.code(theo)}` });
    t.match(wrongPassword.assoc, { principal: 'theo', userIdentityType: 2, reason: 'wrong-password' });
    const unknown = await refusedWith({ type: 2, primaryField: 'nobody', secondaryField: 'whatever-password123456' });
    t.match(unknown.assoc, { principal: 'nobody', userIdentityType: 2, reason: 'unknown-user' });

    const session = await gw.login(theo);
    const notADimseToken = await refusedWith({ type: 5, primaryField: session });
    t.match(notADimseToken.assoc, { decision: 'deny', principal: 'theo', userIdentityType: 5, reason: 'token-invalid' });
    t.match(notADimseToken.assoc.detail, /not valid/);
    t.same(notADimseToken.events.map((e) => `${String(e.event)}:${String(e.decision)}`), ['auth.token:deny', 'dicom.association:deny']);
    const garbage = await refusedWith({ type: 5, primaryField: 'not-a-jwt' });
    t.match(garbage.assoc, { userIdentityType: 5, reason: 'token-invalid' });
    t.equal(garbage.assoc['principal'], undefined, 'no principal when the token names none');
  });

  await t.test('calling AE titles bound to a user or a role: A-ASSOCIATE-RJ 1/1/3 for any other', async (t) => {
    const asModality = await runScu([new CEchoRequest()], { port, callingAe: 'CT01', ca: env.caPem, userIdentity: await type2(wanda) });
    t.notOk(asModality.accepted, 'wanda cannot present a modality\'s AE title');
    t.same(asModality.rejected, { result: 1, source: 1, reason: 3 }, 'rejected permanent, service user, calling AE title not recognised');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'calling-ae-not-allowed', principal: 'wanda', userIdentityType: 2, callingAe: 'CT01' });
    const own = await runScu([new CEchoRequest()], { port, callingAe: 'WS-WANDA', ca: env.caPem, userIdentity: await type2(wanda) });
    t.ok(own.accepted, `wanda with her own AE title: ${own.errors.join()}`);

    const rheaAsModality = await runScu([new CEchoRequest()], { port, callingAe: 'CT01', ca: env.caPem, userIdentity: await type2(rhea) });
    t.same(rheaAsModality.rejected, { result: 1, source: 1, reason: 3 }, 'the reader role allows READ1 and READ2 only');
    const rheaOk = await runScu([new CEchoRequest()], { port, callingAe: 'READ2', ca: env.caPem, userIdentity: await type2(rhea) });
    t.ok(rheaOk.accepted, rheaOk.errors.join());

    // Without aeTitles (the default) a user may use any calling AE title: the risk docs/dicom.md
    // describes; every event says which one was used.
    const theoAsModality = await runScu([new CEchoRequest()], { port, callingAe: 'CT01', ca: env.caPem, userIdentity: await type2(theo) });
    t.ok(theoAsModality.accepted);
    const id = gw.auditEvents('dicom.association').at(-1)?.associationId;
    t.ok(eventsOf(id).every((e) => e.callingAe === 'CT01'), 'every event of that association names CT01');
  });

  await t.test('storescu with a bound user and the wrong AE title (dcmtk)', async (t) => {
    const file = join(env.dir, 'wanda.dcm');
    writeFileSync(file, makeInstance().buffer);
    const r = await run('storescu', [...env.tls(), '--user', 'wanda', '--password', await env.passcode(wanda), '-aet', 'CT01', '-aec', 'GATEWAY', ...peer, file]);
    t.not(r.code, 0);
    t.match(r.stderr + r.stdout, /Calling AE Title Not Recognized/i);
  });
});
