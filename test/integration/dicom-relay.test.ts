// The outbound relay: a C-MOVE asked through the gateway reaches a remote workstation (dcmtk storescp +tls) only over TLS, from Orthanc via the relay.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { relayExport } from '../../src/atna/messages.js';
import { buildAssociateRq } from '../../src/dicom/associate-build.js';
import { createCa, issueCertificate } from '../../src/tls/issue.js';
import { datasetAfterMeta, makeInstance } from '../helpers/instances.js';
import { uploadInstance } from '../helpers/orthanc.js';
import { freePort } from '../helpers/ports.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { run, startProcess, waitFor, waitForPort } from '../helpers/tools.js';
import { kids, parseXml } from '../helpers/xml.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';
import { dimse, runScu } from '../dicom/helpers/dimse-client.js';

const { CMoveRequest } = dimse.requests;
const { Status } = dimse.constants;
const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

function files(dir: string): string[] {
  return readdirSync(dir).filter((f) => !f.startsWith('.'));
}

/** Opens a plain connection to the relay (optionally from another loopback address), sends an A-ASSOCIATE-RQ, and returns what came back before the close. */
function associate(port: number, calledAe: string, localAddress?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect({ host: '127.0.0.1', port, ...(localAddress === undefined ? {} : { localAddress }) });
    const got: Buffer[] = [];
    s.on('connect', () => s.write(buildAssociateRq({ callingAe: 'ORTHANC', calledAe, presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] })));
    s.on('data', (c: Buffer) => got.push(c));
    s.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err); });
    s.on('close', () => resolve(Buffer.concat(got)));
  });
}

t.test('outbound relay for C-MOVE to a remote workstation over TLS', async (t) => {
  const relayPort = await freePort();
  const wsPort = await freePort();
  const refuserPort = await freePort();
  const findablePort = await freePort();
  // The remote site's storescp that refuses the gateway's certificate, behind a recording proxy: what went on the wire is checked.
  const wire = await startTcpProxy({ target: { host: '127.0.0.1', port: refuserPort }, record: true });
  t.teardown(() => wire.close());

  // Certificates, generated now: the hospital CA signs the gateway's relay client certificate; the remote site has its own CA.
  const hospitalCa = createCa({ commonName: 'hospital relay CA' });
  const gwClient = issueCertificate(hospitalCa, { commonName: 'pacs-gateway relay', usage: 'client' });
  const siteCa = createCa({ commonName: 'remote site CA' });
  const siteServer = issueCertificate(siteCa, { commonName: 'remote-ws', usage: 'server', ipAddresses: ['127.0.0.1'] });
  const otherCa = createCa({ commonName: 'unrelated CA' });

  const certDir = mkdtempSync(join(tmpdir(), 'pgw-relay-certs-'));
  t.teardown(() => rmSync(certDir, { recursive: true, force: true }));
  const write = (name: string, pem: string): string => {
    const file = join(certDir, name);
    writeFileSync(file, pem, { mode: 0o600 });
    return file;
  };
  const gwTls = { ca: write('site-ca.crt', siteCa.certPem), cert: write('gw-relay.crt', gwClient.certPem), key: write('gw-relay.key', gwClient.keyPem) };
  const hospitalCaFile = write('hospital-ca.crt', hospitalCa.certPem);
  const otherCaFile = write('other-ca.crt', otherCa.certPem);
  const siteCert = write('site.crt', siteServer.certPem);
  const siteKey = write('site.key', siteServer.keyPem);
  const destination = (port: number): Record<string, unknown> => ({ host: '127.0.0.1', port, tls: gwTls });

  const env = await startDicomEnv({
    roles: { mover: { actions: ['echo', 'search', 'retrieve', 'move'], moveDestinations: ['REMOTEWS', 'REFUSER', 'IMPOSTOR'] } },
    // Orthanc knows the remote AEs by their own titles, at the relay's address (docs/deployment.md).
    orthanc: {
      modalities: {
        remotews: { AET: 'REMOTEWS', Host: '127.0.0.1', Port: relayPort },
        refuser: { AET: 'REFUSER', Host: '127.0.0.1', Port: relayPort },
        impostor: { AET: 'IMPOSTOR', Host: '127.0.0.1', Port: relayPort },
      },
    },
    config: {
      relay: {
        listen: { host: '127.0.0.1', port: relayPort },
        allowFrom: ['127.0.0.1/32'],
        destinations: {
          REMOTEWS: destination(wsPort), REFUSER: destination(wire.port), FINDABLE: destination(findablePort),
          // The remote workstation's port, but a CA that did not sign its certificate: the relay must not send.
          IMPOSTOR: { host: '127.0.0.1', port: wsPort, tls: { ...gwTls, ca: otherCaFile } },
        },
      },
    },
  });
  t.teardown(() => env.stop());
  const { orthanc, gw, port } = env;
  t.equal(gw.gateway.addresses?.relay?.port, relayPort, 'the relay listens');
  const reader = await env.addDevice('remote-reader', { role: 'mover', aeTitles: ['WS01'], moveDestinations: ['REMOTEWS', 'REFUSER', 'IMPOSTOR'] });
  const inst = makeInstance({ pixelBytes: 64 * 1024 });
  await uploadInstance(orthanc, inst.buffer);

  // The remote workstation: storescp over TLS with the site's certificate, requiring a client certificate from the hospital CA.
  const scp = async (aeTitle: string, listenPort: number, trust: string, extra: string[] = []): Promise<string> => {
    const out = join(env.dir, `out-${aeTitle}`);
    mkdirSync(out);
    const proc = await startProcess('storescp', ['-aet', aeTitle, '+tls', siteKey, siteCert, '+cf', trust, '-rc', ...extra, '-od', out, String(listenPort)]);
    t.teardown(() => proc.stop());
    await waitForPort(listenPort);
    return out;
  };
  const wsOut = await scp('REMOTEWS', wsPort, hospitalCaFile);
  const refuserOut = await scp('REFUSER', refuserPort, otherCaFile);
  const cfg = join(env.dir, 'findable.cfg');
  writeFileSync(cfg, [
    '[[TransferSyntaxes]]', '[Uncompressed]', 'TransferSyntax1 = LittleEndianImplicit', 'TransferSyntax2 = LocalEndianExplicit', '',
    '[[PresentationContexts]]', '[Ctx]', 'PresentationContext1 = VerificationSOPClass\\Uncompressed',
    'PresentationContext2 = FINDStudyRootQueryRetrieveInformationModel\\Uncompressed', '',
    '[[Profiles]]', '[Default]', 'PresentationContexts = Ctx', '',
  ].join('\n'));
  const findableOut = await scp('FINDABLE', findablePort, hospitalCaFile, ['-xf', cfg, 'Default']);
  const relayEvents = (event: string, decision?: string): Record<string, any>[] => gw.auditEvents().filter((e) => e.event === event && (decision === undefined || e.decision === decision));

  await t.test('a C-MOVE through the gateway arrives at the remote workstation over TLS, byte-identical, audited as an export', async (t) => {
    const r = await runScu([CMoveRequest.createStudyMoveRequest('REMOTEWS', inst.studyUid)], { port, callingAe: 'WS01', ca: env.caPem, cert: reader });
    t.equal(r.responses.at(-1)?.status, Status.Success, `C-MOVE succeeded: ${JSON.stringify(r.responses.at(-1))} ${r.errors.join()}`);
    const got = files(wsOut);
    t.equal(got.length, 1, 'storescp received the instance');
    t.ok(datasetAfterMeta(readFileSync(join(wsOut, got[0] as string))).equals(datasetAfterMeta(inst.buffer)), 'byte-identical apart from group 0002');
    const move = gw.auditEvents('dicom.command').find((e) => e.command === 'C-MOVE-RQ' && e.moveDestination === 'REMOTEWS' && e.decision === 'allow');
    t.ok(move, 'the C-MOVE was allowed by the DIMSE guard');
    t.match(relayEvents('relay.association', 'allow').at(-1), { reason: 'accepted', callingAe: orthanc.aeTitle, calledAe: 'REMOTEWS', destinationHost: '127.0.0.1', destinationPort: wsPort });
    const transfer = await waitFor(() => relayEvents('relay.transfer').find((e) => e.destinationAe === 'REMOTEWS'));
    t.match(transfer, {
      decision: 'allow', reason: 'export', destinationAe: 'REMOTEWS', destinationHost: '127.0.0.1', destinationPort: wsPort,
      instances: [inst.sopInstanceUid], sent: 1, completed: 1, failed: 0, unanswered: 0,
      moveOriginatorAe: 'WS01', moveOriginatorMessageId: move?.messageId,
      principal: 'remote-reader', move: { principal: 'remote-reader', associationId: move?.associationId, callingAe: 'WS01' },
    }, 'the export names the destination, the instance and the C-MOVE that caused it');
    t.same(transfer.sopClasses, { [inst.sopClassUid]: [inst.sopInstanceUid] });
    // The ATNA message the export becomes: DICOM Instances Transferred, PACS → remote AE, the mover as requestor.
    const xml = relayExport({ id: 'gw', hostname: 'gw.example', pid: 1, pacsAeTitle: orthanc.aeTitle, pacsHost: '127.0.0.1', pacsDicomweb: orthanc.dicomwebUrl }, transfer as never, Date.now());
    const msg = parseXml(xml ?? '');
    t.match(kids(kids(msg, 'EventIdentification')[0]!, 'EventID')[0]?.attrs, { 'csd-code': '110104' });
    t.match(kids(msg, 'EventIdentification')[0]?.attrs, { EventActionCode: 'R', EventOutcomeIndicator: '0' });
    t.match(kids(msg, 'ActiveParticipant').map((p) => [p.attrs['UserID'], p.attrs['UserIsRequestor'], p.attrs['NetworkAccessPointID']]), [
      [orthanc.aeTitle, 'false', '127.0.0.1'], ['REMOTEWS', 'false', '127.0.0.1'], ['remote-reader', 'true', '127.0.0.1'],
    ]);
    const sopClass = kids(kids(kids(msg, 'ParticipantObjectIdentification')[0]!, 'ParticipantObjectDescription')[0]!, 'SOPClass')[0];
    t.match(sopClass?.attrs, { UID: inst.sopClassUid, NumberOfInstances: '1' });
    t.same(kids(sopClass!, 'Instance').map((i) => i.attrs['UID']), [inst.sopInstanceUid]);
  });

  await t.test('a second C-MOVE on a new association (message IDs start again) is tied to that association, not ambiguous', async (t) => {
    const r = await runScu([CMoveRequest.createStudyMoveRequest('REMOTEWS', inst.studyUid)], { port, callingAe: 'WS01', ca: env.caPem, cert: reader });
    t.equal(r.responses.at(-1)?.status, Status.Success);
    const moves = gw.auditEvents('dicom.command').filter((e) => e.command === 'C-MOVE-RQ' && e.moveDestination === 'REMOTEWS' && e.decision === 'allow');
    t.equal(moves.length, 2);
    t.equal(moves[0]?.messageId, moves[1]?.messageId, 'the same originator AE and message ID as the first move');
    const transfers = await waitFor(() => { const x = relayEvents('relay.transfer').filter((e) => e.destinationAe === 'REMOTEWS'); return x.length === 2 ? x : undefined; });
    t.match(transfers[1], { completed: 1, move: { associationId: moves[1]?.associationId } });
    t.notOk(transfers[1]?.move?.ambiguous, 'the first move had ended');
  });

  await t.test('a destination that refuses the gateway certificate: the C-MOVE fails and nothing goes out in cleartext', async (t) => {
    const before = wire.connections.length;
    const r = await runScu([CMoveRequest.createStudyMoveRequest('REFUSER', inst.studyUid)], { port, callingAe: 'WS01', ca: env.caPem, cert: reader });
    const last = r.responses.at(-1);
    t.not(last?.status, Status.Success, `the PACS's C-MOVE reports a failure (status 0x${last?.status.toString(16)})`);
    t.same(files(refuserOut), [], 'storescp received nothing');
    const denied = relayEvents('relay.association', 'deny').filter((e) => e.calledAe === 'REFUSER');
    t.ok(denied.length > 0, 'the relay refused the association');
    t.match(denied[0], { reason: 'destination-tls-failed', rejection: { result: 2, source: 3, reason: 1 } }, 'A-ASSOCIATE-RJ transient to the PACS');
    const sent = wire.connections.slice(before).map((c) => Buffer.concat(c.fromClient));
    t.ok(sent.length > 0, 'the relay did try the destination');
    for (const bytes of sent) {
      t.equal(bytes[0], 0x16, 'the first byte on the wire is a TLS handshake record');
      t.notOk(bytes.includes(Buffer.from('REFUSER')) || bytes.includes(Buffer.from('1.2.840.10008.3.1.1.1')), 'no A-ASSOCIATE-RQ in cleartext');
    }
  });

  await t.test('a destination whose certificate does not chain to relay.destinations.<AE>.tls.ca gets nothing', async (t) => {
    // A study of its own: storescp names files by SOP Instance UID, so a resent instance would not add a file.
    const other = makeInstance();
    await uploadInstance(orthanc, other.buffer);
    const before = files(wsOut).length;
    const r = await runScu([CMoveRequest.createStudyMoveRequest('IMPOSTOR', other.studyUid)], { port, callingAe: 'WS01', ca: env.caPem, cert: reader });
    t.not(r.responses.at(-1)?.status, Status.Success, 'the C-MOVE fails');
    t.equal(files(wsOut).length, before, 'the workstation behind the unverified certificate received nothing');
    t.notOk(files(wsOut).some((f) => f.includes(other.sopInstanceUid)));
    t.match(relayEvents('relay.association', 'deny').filter((e) => e.calledAe === 'IMPOSTOR')[0], { reason: 'destination-tls-failed', detail: /certificate/i, rejection: { result: 2, source: 3, reason: 1 } });
  });

  await t.test('the relay refuses an unknown called AE (A-ASSOCIATE-RJ 1/1/7) and an address outside allowFrom', async (t) => {
    const rj = await associate(relayPort, 'NOSUCHAE');
    t.same([...rj], [0x03, 0, 0, 0, 0, 4, 0, 1, 1, 7], 'A-ASSOCIATE-RJ permanent, service-user, called AE not recognized');
    t.match(relayEvents('relay.association', 'deny').at(-1), { reason: 'unknown-destination', calledAe: 'NOSUCHAE', rejection: { result: 1, source: 1, reason: 7 } });
    const before = files(wsOut).length;
    const nothing = await associate(relayPort, 'REMOTEWS', '127.0.0.2');
    t.equal(nothing.length, 0, 'closed without a byte');
    t.match(relayEvents('relay.association', 'deny').at(-1), { reason: 'address-not-allowed', source: '127.0.0.2' });
    t.equal(files(wsOut).length, before);
  });

  await t.test('only C-STORE and C-ECHO go out: a C-FIND on the relay gets 0x0124, a C-ECHO passes', async (t) => {
    const find = await run('findscu', ['-v', '-S', '-aet', 'ORTHANC', '-aec', 'FINDABLE', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${inst.studyUid}`, '127.0.0.1', String(relayPort)]);
    t.match(find.stderr + find.stdout, /Status: 0x0?124\b|Refused: ?Not ?Authori[sz]ed/i, `C-FIND refused with 0x0124: ${find.stderr}`);
    t.match(relayEvents('relay.command', 'deny').at(-1), { command: 'C-FIND-RQ', reason: 'only-store-and-echo-outbound', calledAe: 'FINDABLE' });
    t.same(files(findableOut), []);
    const echo = await run('echoscu', ['-aet', 'ORTHANC', '-aec', 'FINDABLE', '127.0.0.1', String(relayPort)]);
    t.equal(echo.code, 0, `C-ECHO through the relay: ${echo.stderr}`);
  });
});
