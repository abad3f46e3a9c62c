// The fenced legacy port (listen.dicomLegacy) against real parts: plain dcmtk from a legacy device's
// address into Orthanc behind the gateway; everything else refused before the PACS sees it.

import { once } from 'node:events';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { datasetAfterMeta, makeInstance, writeInstance } from '../helpers/instances.js';
import { getInstanceFile } from '../helpers/orthanc.js';
import { run, waitFor } from '../helpers/tools.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

t.test('legacy DICOM port: plain DIMSE for listed devices only', async (t) => {
  const env = await startDicomEnv({
    config: {
      listen: { dicomLegacy: { host: '127.0.0.1', port: 0 } },
      legacyDevices: {
        // No role: legacy-modality (echo, store).
        'old-ct': { addresses: ['127.0.0.1/32', '2001:db8:1::/48'], aeTitles: ['OLDCT'] },
        // A device whose network is elsewhere: 127.0.0.3 is on no list.
        'old-us': { addresses: ['10.20.30.0/24'], aeTitles: ['OLDUS'] },
      },
      // Low enough for the flood subtest below; the other subtests open far fewer connections from 127.0.0.5.
      alerts: { rules: { 'association-flood': { threshold: 8 } } },
    },
    gatewayOptions: { timing: { alertFlushMs: 100 } },
  });
  t.teardown(() => env.stop());
  const { orthanc, gw } = env;
  const legacyPort = gw.gateway.addresses?.dicomLegacy?.port;
  t.ok(legacyPort !== undefined && legacyPort > 0, 'the legacy listener is bound');
  const peer = ['127.0.0.1', String(legacyPort)];

  await t.test('storescu without TLS from an allowed address and AE: stored byte-identical, audited as cleartext', async (t) => {
    const echo = await run('echoscu', ['-aet', 'OLDCT', '-aec', 'GATEWAY', ...peer]);
    t.equal(echo.code, 0, `echoscu: ${echo.stderr}`);
    const inst = makeInstance({ pixelBytes: 64 * 1024 });
    const store = await run('storescu', ['-aet', 'OLDCT', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, inst)]);
    t.equal(store.code, 0, `storescu: ${store.stderr}`);
    const stored = await getInstanceFile(orthanc, inst.sopInstanceUid);
    t.ok(stored !== undefined && datasetAfterMeta(stored).equals(datasetAfterMeta(inst.buffer)), 'data set byte-identical after group 0002');
    const cmds = await orthanc.dicomCommands();
    t.same(cmds.map((c) => `${c.type}:${c.callingAet}:${c.calledAet}`), ['Echo:OLDCT:ORTHANC', 'Store:OLDCT:ORTHANC'], 'Orthanc got these requests, called AE rewritten');
    const allowed = gw.auditEvents('dicom.association').filter((e) => e.decision === 'allow');
    t.equal(allowed.length, 2);
    t.match(allowed[1], { principal: 'old-ct', kind: 'legacy-device', role: 'legacy-modality', method: 'source-address', channel: 'cleartext', callingAe: 'OLDCT', source: '127.0.0.1', tlsVersion: null });
    t.match(gw.auditEvents('dicom.command').map((e) => `${e.command}:${e.decision}:${e.channel}`), ['C-ECHO-RQ:allow:cleartext', 'C-STORE-RQ:allow:cleartext']);
  });

  await t.test('C-FIND from a legacy device: 0x0124, never reaches Orthanc', async (t) => {
    const before = (await orthanc.dicomCommands()).length;
    const find = await run('findscu', ['-d', '-aet', 'OLDCT', '-aec', 'GATEWAY', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID', ...peer]);
    const out = find.stderr + find.stdout;
    t.match(out, /Received Final Find Response[\s\S]*DIMSE Status *: 0x0124: Failure/, 'status 0x0124 received');
    t.match(out, /\(0000,0902\) LO \[Refused by gateway: role-lacks-action/, 'the Error Comment says why');
    t.equal((await orthanc.dicomCommands()).length, before, 'Orthanc never saw the C-FIND');
    t.match(gw.auditEvents('dicom.command').at(-1), { command: 'C-FIND-RQ', decision: 'deny', reason: 'role-lacks-action', principal: 'old-ct', channel: 'cleartext' });
  });

  await t.test('known address, wrong calling AE: A-ASSOCIATE-RJ 1/1/3', async (t) => {
    const before = await orthanc.activity();
    const wrong = await run('echoscu', ['-aet', 'OLDUS', '-aec', 'GATEWAY', ...peer]);
    t.not(wrong.code, 0);
    t.match(wrong.stderr + wrong.stdout, /Association Rejected[\s\S]*Rejected Permanent[\s\S]*Calling AE Title Not Recognized/i);
    t.same(await orthanc.activity(), before, 'Orthanc saw nothing');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'calling-ae-not-allowed', callingAe: 'OLDUS', channel: 'cleartext', rejection: { result: 1, source: 1, reason: 3 } });
  });

  await t.test('an address on no list: the connection is closed at once, nothing answered', async (t) => {
    const before = await orthanc.activity();
    const socket = connect({ host: '127.0.0.1', port: legacyPort as number, localAddress: '127.0.0.3' });
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    // A well-formed request from an allowed AE title: the address alone decides.
    socket.write(buildAssociateRq({ calledAe: 'GATEWAY', callingAe: 'OLDCT', presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] }), () => undefined);
    await once(socket, 'close');
    t.equal(Buffer.concat(received).length, 0, 'not one byte came back (no A-ASSOCIATE-AC/RJ)');
    const storescu = await run('storescu', ['-aet', 'OLDCT', '-aec', 'GATEWAY', '-ta', '5', '127.0.0.1', String(legacyPort), await writeInstance(env.dir, makeInstance())], { env: {} });
    t.equal(storescu.code, 0, 'the same AE from the listed address still works (control)');
    const refused = await waitFor(() => gw.auditEvents('dicom.association').find((e) => e.reason === 'legacy-address-not-allowed'));
    t.match(refused, { decision: 'deny', source: '127.0.0.3', channel: 'cleartext', listener: 'dicom-legacy' });
    t.notOk('callingAe' in refused, 'the request was never read');
    t.ok(gw.logs.some((l) => l['alert']?.name === 'dicom.legacy-address-refused' && l['alert'].source === '127.0.0.3'), 'alert raised');
    const metrics = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
    t.match(metrics, /^pacs_gateway_alerts_total\{rule="dicom.legacy-address-refused"\} 1$/m, 'the alert counter');
    const after = await orthanc.activity();
    t.equal(after.dicomConnections, before.dicomConnections + 1, 'Orthanc saw only the control association');
  });

  await t.test('association-flood sees the legacy port: plain connections from one address count like TLS handshakes', async (t) => {
    // Connections that send nothing and close: no association, no audit event of their own, yet a flood.
    for (let i = 0; i < 12; i++) {
      const socket = connect({ host: '127.0.0.1', port: legacyPort as number, localAddress: '127.0.0.5' });
      socket.on('error', () => undefined);
      await once(socket, 'close');
    }
    const alert = await waitFor(() => gw.logs.find((l) => l['alert']?.name === 'anomaly' && l['alert'].rule === 'association-flood' && l['alert'].subject === '127.0.0.5')?.['alert']);
    t.match(alert, { measure: 'handshakes', threshold: 8, source: '127.0.0.5' }, 'the anomaly names the address');
    t.ok(alert.count > 8, `counted ${alert.count} connections`);
    const metrics = await (await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`)).text();
    const n = Number(/^pacs_gateway_legacy_connections_total (\d+)$/m.exec(metrics)?.[1]);
    t.ok(n >= 12, `the legacy connection counter (${n})`);
  });

  await t.test('User Identity on the legacy port: refused, the password never accepted in cleartext', async (t) => {
    const theo = await gw.addUser('theo', 'technologist');
    const before = await orthanc.activity();
    const store = await run('storescu', ['--user', 'theo', '--password', await env.passcode(theo), '-aet', 'OLDCT', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, makeInstance())]);
    t.not(store.code, 0);
    t.match(store.stderr + store.stdout, /Association Rejected[\s\S]*Rejected Permanent/i);
    t.same(await orthanc.activity(), before, 'Orthanc saw nothing');
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'user-identity-on-cleartext-port', userIdentityType: 2, principal: 'theo', channel: 'cleartext' });
    t.ok(gw.logs.some((l) => l['alert']?.name === 'dicom.cleartext-credential'), 'alert: a credential crossed the network in cleartext');
    t.equal(gw.auditEvents('auth.login').length, 0, 'the password was never checked');
    t.notOk(gw.rawLogs.join('\n').includes(theo.password), 'the password is in no log line');
  });

  await t.test('a TLS ClientHello on the legacy port from a listed address: no handshake, no association, nothing at the PACS', async (t) => {
    const before = await orthanc.activity();
    const allowedBefore = gw.auditEvents('dicom.association').filter((e) => e.decision === 'allow').length;
    const socket = tlsConnect({ host: '127.0.0.1', port: legacyPort as number, rejectUnauthorized: false, servername: 'gateway' });
    const failed = await new Promise<string>((resolve) => {
      socket.once('secureConnect', () => resolve('handshake completed'));
      socket.once('error', (err) => resolve(`error: ${err.message}`));
      socket.once('close', () => resolve('closed'));
    });
    socket.destroy();
    t.not(failed, 'handshake completed', `the TLS client gets no handshake (${failed})`);
    t.same(await orthanc.activity(), before, 'Orthanc saw nothing');
    t.equal(gw.auditEvents('dicom.association').filter((e) => e.decision === 'allow').length, allowedBefore, 'no association was admitted');
  });

  await t.test('the TLS port is unchanged: the legacy device has no certificate, plain TCP there fails', async (t) => {
    const plain = await run('echoscu', ['-aet', 'OLDCT', '-aec', 'GATEWAY', '-ta', '5', '127.0.0.1', String(env.port)]);
    t.not(plain.code, 0);
  });
});

t.test('legacy DICOM port on IPv6: the address list matches IPv6 sources', async (t) => {
  // No PACS behind it: an admitted association ends in A-ASSOCIATE-RJ 2/3/1 (PACS unreachable), a refused address in a bare close.
  const { startGateway } = await import('../helpers/gateway.js');
  const gw = await startGateway({
    config: {
      listen: { dicomLegacy: { host: '::1', port: 0 } },
      legacyDevices: { 'v6-ct': { addresses: ['::1/128'], aeTitles: ['V6CT'] }, elsewhere: { addresses: ['2001:db8::/32'], aeTitles: ['V6CT'] } },
    },
  });
  t.teardown(() => gw.stop());
  const port = gw.gateway.addresses?.dicomLegacy?.port as number;
  const answer = async (): Promise<Buffer> => {
    const socket = connect({ host: '::1', port });
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write(buildAssociateRq({ calledAe: 'GATEWAY', callingAe: 'V6CT', presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] }), () => undefined);
    await once(socket, 'close');
    return Buffer.concat(got);
  };
  const admitted = await answer();
  t.same([...admitted.subarray(0, 1), ...admitted.subarray(7, 10)], [0x03, 2, 3, 1], '::1 is listed: admitted, then A-ASSOCIATE-RJ 2/3/1 because no PACS answers');
  t.match(gw.auditEvents('dicom.association').at(-1), { reason: 'upstream-unreachable', principal: 'v6-ct', source: '::1', channel: 'cleartext' });
  await gw.stop();
  const gw2 = await startGateway({
    config: { listen: { dicomLegacy: { host: '::1', port: 0 } }, legacyDevices: { elsewhere: { addresses: ['2001:db8::/32', '127.0.0.1'], aeTitles: ['V6CT'] } } },
  });
  t.teardown(() => gw2.stop());
  const port2 = gw2.gateway.addresses?.dicomLegacy?.port as number;
  const socket = connect({ host: '::1', port: port2 });
  const got: Buffer[] = [];
  socket.on('data', (c: Buffer) => got.push(c));
  socket.on('error', () => undefined);
  await once(socket, 'close');
  t.equal(Buffer.concat(got).length, 0, '::1 on no list: closed without a byte');
  t.match(await waitFor(() => gw2.auditEvents('dicom.association').find((e) => e.reason === 'legacy-address-not-allowed')), { source: '::1' });
});
