// ATNA export against a real rsyslog (gnutls, mutual TLS): each message type from real traffic, checked field by field and
// against the DICOM audit message schema (xmllint), and a receiver restart in the middle loses nothing.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { makeInstance, randomUid } from '../helpers/instances.js';
import { uploadInstance } from '../helpers/orthanc.js';
import { startSyslogReceiver } from '../helpers/rsyslog.js';
import { run, waitFor } from '../helpers/tools.js';
import { kids, parseXml, type XmlElement } from '../helpers/xml.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';
import { dimse, runScu } from '../dicom/helpers/dimse-client.js';

const SCHEMA = join(process.cwd(), 'test/fixtures/dicom-audit-message.rng');
const { CGetRequest } = dimse.requests;

interface Received { readonly pri: string; readonly msgid: string; readonly host: string; readonly xml: string; readonly doc: XmlElement }

function parseSyslog(line: string): Received {
  // RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [BOM]MSG
  const m = /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) - \ufeff?(<\?xml[\s\S]*)$/.exec(line);
  if (m === null) throw new Error(`not an RFC 5424 ATNA message: ${line.slice(0, 120)}`);
  return { pri: m[1] as string, host: m[3] as string, msgid: m[6] as string, xml: m[7] as string, doc: parseXml(m[7] as string) };
}

const eventId = (r: Received): string | undefined => kids(r.doc, 'EventIdentification')[0]?.children.find((c) => c.name === 'EventID')?.attrs['csd-code'];
const eventTypes = (r: Received): string[] => (kids(r.doc, 'EventIdentification')[0]?.children ?? []).filter((c) => c.name === 'EventTypeCode').map((c) => c.attrs['csd-code'] as string);
const event = (r: Received): Record<string, string> => kids(r.doc, 'EventIdentification')[0]?.attrs ?? {};
const participants = (r: Received): XmlElement[] => kids(r.doc, 'ActiveParticipant');
const roles = (p: XmlElement): string[] => kids(p, 'RoleIDCode').map((c) => c.attrs['csd-code'] as string);
const objects = (r: Received): XmlElement[] => kids(r.doc, 'ParticipantObjectIdentification');
const idType = (o: XmlElement): string | undefined => kids(o, 'ParticipantObjectIDTypeCode')[0]?.attrs['csd-code'];
const query = (o: XmlElement): string => Buffer.from(kids(o, 'ParticipantObjectQuery')[0]?.text ?? '', 'base64').toString('latin1');

t.test('ATNA audit messages over RFC 5425 syslog to rsyslog', async (t) => {
  const receiver = await startSyslogReceiver();
  t.teardown(() => receiver.destroy());
  const env = await startDicomEnv({
    roles: { workstation: ['echo', 'search', 'retrieve'] },
    gatewayOptions: { timing: { alertFlushMs: 100, syslogConfirmMs: 300, syslogRetryBaseMs: 100 } },
    config: {
      audit: { sourceId: 'pacs-gw-test', syslog: [{ host: '127.0.0.1', port: receiver.port, servername: 'localhost', ...receiver.client }] },
      alerts: { rules: { 'refusal-burst': { threshold: 1 } } },
    },
  });
  t.teardown(() => env.stop());
  const { gw, orthanc, port } = env;
  const study = randomUid();
  const inst = makeInstance({ studyUid: study, patientId: 'ATNA-1', patientName: 'Audit^Patient', pixelBytes: 2048 });
  await uploadInstance(orthanc, inst.buffer);
  const ws = await env.addDevice('reading-ws', { role: 'workstation', aeTitles: ['WS01'] });
  const rita = await gw.addUser('rita', 'radiologist');
  const vera = await gw.addUser('vera', 'viewer');
  const received = (): Received[] => receiver.messages().map(parseSyslog);
  const byEvent = (id: string): Received[] => received().filter((r) => eventId(r) === id);

  // Traffic that produces every message type.
  const token = await gw.login(rita);
  const refused = await gw.request('POST', '/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'rita', password: 'wrong-password', totp: '000000' }) });
  t.equal(refused.status, 401);
  const auth = { authorization: `Bearer ${token}` };
  t.equal((await gw.request('GET', '/dicom-web/studies?PatientID=ATNA-1&marker=qido-0', { headers: auth })).status, 200);
  const find = await run('findscu', [...env.tls(ws), '-aet', 'WS01', '-aec', 'GATEWAY', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=ATNA-1', '-k', 'StudyInstanceUID', '127.0.0.1', String(port)]);
  t.equal(find.code, 0, find.stderr);
  const instancePath = `/dicom-web/studies/${study}/series/${inst.seriesUid}/instances/${inst.sopInstanceUid}`;
  t.equal((await gw.request('GET', `${instancePath}/metadata`, { headers: auth })).status, 200);
  t.equal((await gw.request('GET', instancePath, { headers: auth })).status, 200);
  const get = await runScu([CGetRequest.createStudyGetRequest(study)], { port, callingAe: 'WS01', ca: env.caPem, cert: ws });
  t.equal(get.stored.length, 1);
  const veraToken = await gw.login(vera);
  for (let i = 0; i < 2; i++) t.equal((await gw.request('DELETE', `/dicom-web/studies/${study}`, { headers: { authorization: `Bearer ${veraToken}` } })).status, 403);
  t.equal((await gw.request('POST', '/auth/logout', { headers: auth })).status, 200);

  await t.test('each message type arrives with its required fields', async (t) => {
    await waitFor(() => byEvent('110113').length > 0 && byEvent('110102').length > 0 && byEvent('110114').length >= 4, 20_000);
    const all = received();
    t.ok(all.every((r) => r.pri === '85' && r.msgid === 'IHE+RFC-3881'), 'authpriv.notice, MSGID IHE+RFC-3881');
    t.ok(all.every((r) => kids(r.doc, 'AuditSourceIdentification')[0]?.attrs['AuditSourceID'] === 'pacs-gw-test'), 'AuditSourceID from audit.sourceId');
    t.ok(all.every((r) => !Number.isNaN(Date.parse(event(r)['EventDateTime'] ?? ''))), 'EventDateTime');

    const start = byEvent('110100').find((r) => eventTypes(r).includes('110120'));
    t.ok(start, 'Application Activity: Application Start');
    t.same(start === undefined ? [] : roles(participants(start)[0] as XmlElement), ['110150'], 'the application participant');

    const logins = byEvent('110114').filter((r) => eventTypes(r).includes('110122'));
    const ok = logins.find((r) => event(r)['EventOutcomeIndicator'] === '0' && participants(r)[0]?.attrs['UserID'] === 'rita');
    t.match(ok && participants(ok)[0]?.attrs, { UserIsRequestor: 'true', NetworkAccessPointID: '127.0.0.1', NetworkAccessPointTypeCode: '2' }, 'User Authentication: Login, success');
    const failed = logins.find((r) => event(r)['EventOutcomeIndicator'] === '4');
    t.ok(failed && kids(kids(failed.doc, 'EventIdentification')[0] as XmlElement, 'EventOutcomeDescription')[0]?.text === 'wrong-password', 'a failed login: minor failure, with the reason');
    t.ok(byEvent('110114').some((r) => eventTypes(r).includes('110123')), 'User Authentication: Logout');

    const queries = byEvent('110112');
    const qido = queries.find((r) => objects(r).some((o) => query(o).includes('marker=qido-0')));
    t.ok(qido, 'Query for the QIDO-RS search, the request in ParticipantObjectQuery');
    if (qido !== undefined) {
      t.same(participants(qido).map(roles), [['110153'], ['110152']], 'requestor (source) and PACS (destination)');
      t.equal(idType(objects(qido)[0] as XmlElement), '110181', 'SOP Class UID');
    }
    const cfind = queries.find((r) => participants(r)[0]?.attrs['UserID'] === 'reading-ws');
    t.ok(cfind, 'Query for the C-FIND');
    if (cfind !== undefined) {
      const o = objects(cfind)[0] as XmlElement;
      t.equal(o.attrs['ParticipantObjectID'], '1.2.840.10008.5.1.4.1.2.2.1', 'Study Root FIND');
      t.ok(query(o).includes('ATNA-1'), 'the C-FIND identifier as sent');
      t.equal(participants(cfind)[0]?.attrs['AlternativeUserID'], 'AETITLES=WS01');
    }

    const accessed = byEvent('110103').find((r) => objects(r).some((o) => o.attrs['ParticipantObjectID'] === study));
    t.match(accessed && event(accessed), { EventActionCode: 'R', EventOutcomeIndicator: '0' }, 'DICOM Instances Accessed (metadata)');
    const transferred = byEvent('110104');
    t.ok(transferred.some((r) => participants(r)[1]?.attrs['UserID'] === 'rita' && objects(r).some((o) => idType(o) === '110180' && o.attrs['ParticipantObjectID'] === study)), 'DICOM Instances Transferred (WADO-RS)');
    const cget = transferred.find((r) => participants(r)[1]?.attrs['UserID'] === 'reading-ws');
    t.ok(cget, 'DICOM Instances Transferred (C-GET)');
    if (cget !== undefined) {
      t.same(participants(cget).map(roles), [['110153'], ['110152']], 'the PACS sends, the workstation receives');
      t.ok(objects(cget).some((o) => idType(o) === '110180' && o.attrs['ParticipantObjectID'] === study), 'the study');
      t.ok(objects(cget).some((o) => idType(o) === '2' && o.attrs['ParticipantObjectTypeCodeRole'] === '1' && o.attrs['ParticipantObjectID'] === 'ATNA-1'), 'the patient');
    }
    t.ok(byEvent('110102').some((r) => participants(r)[1]?.attrs['UserID'] === 'reading-ws'), 'Begin Transferring DICOM Instances (C-GET)');

    const alert = byEvent('110113').find((r) => eventTypes(r).includes('110132'));
    t.ok(alert, 'Security Alert for the refusal-burst anomaly');
    if (alert !== undefined) {
      t.equal(event(alert)['EventOutcomeIndicator'], '4');
      const subject = objects(alert)[0] as XmlElement;
      t.equal(kids(subject, 'ParticipantObjectName')[0]?.text, 'refusal-burst');
      const detail = JSON.parse(Buffer.from(kids(subject, 'ParticipantObjectDetail')[0]?.attrs['value'] ?? '', 'base64').toString('utf8'));
      t.match(detail, { name: 'anomaly', rule: 'refusal-burst', measure: 'refusals' });
    }
  });

  await t.test('the receiver restarts mid-stream: every message arrives', async (t) => {
    await receiver.stop();
    for (let i = 1; i <= 10; i++) t.equal((await gw.request('GET', `/dicom-web/studies?PatientID=ATNA-1&marker=restart-${i}`, { headers: { authorization: `Bearer ${await gw.login(rita)}` } })).status, 200);
    await receiver.start();
    const markers = (): Set<string> => new Set(byEvent('110112').flatMap((r) => objects(r).map((o) => /marker=(restart-\d+)/.exec(query(o))?.[1]).filter((m): m is string => m !== undefined)));
    await waitFor(() => markers().size === 10, 30_000);
    t.equal(markers().size, 10, 'all ten queries made while the receiver was down arrived');
  });

  await t.test('Application Stop on shutdown; every message is valid against the DICOM audit message schema', async (t) => {
    await gw.gateway.stop();
    await waitFor(() => byEvent('110100').some((r) => eventTypes(r).includes('110121')), 10_000);
    const all = received();
    const files = all.map((r, i) => {
      const f = join(receiver.dir, `msg-${i}.xml`);
      writeFileSync(f, r.xml);
      return f;
    });
    const v = await run('xmllint', ['--noout', '--relaxng', SCHEMA, ...files]);
    t.equal(v.code, 0, v.stderr.split('\n').filter((l) => !l.endsWith(' validates')).slice(0, 10).join('\n'));
    t.ok(all.length > 20, `${all.length} messages validated`);
  });
});
