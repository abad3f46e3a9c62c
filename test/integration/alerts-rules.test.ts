// Each anomaly rule fires from real traffic through the gateway (dcmtk, dcmjs-dimse, HTTPS to a real Orthanc),
// stays quiet under normal traffic, and reaches the log and a webhook whose signature the receiver checks.

import { connect } from 'node:tls';
import t from 'tap';
import { testClock } from '../helpers/gateway.js';
import { makeInstance, randomUid } from '../helpers/instances.js';
import { uploadInstance } from '../helpers/orthanc.js';
import { run, waitFor } from '../helpers/tools.js';
import { startWebhookReceiver } from '../helpers/webhook-receiver.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';
import { dimse, runScu } from '../dicom/helpers/dimse-client.js';

const { CGetRequest } = dimse.requests;
const SECRET = 'webhook-secret-for-tests-0123456789';
const DAY = 86_400_000;

/** The next Monday 10:00 UTC (a working hour for the viewer role's schedule below). */
function nextMondayTen(now: number): number {
  const d = new Date(now);
  const monday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + ((8 - d.getUTCDay()) % 7 || 7), 10, 0, 0);
  return monday;
}

t.test('anomaly rules against real traffic', async (t) => {
  const hook = await startWebhookReceiver(SECRET, { failFirst: 1 });
  t.teardown(() => hook.close());
  const clock = testClock(nextMondayTen(Date.now()));
  const env = await startDicomEnv({
    clock,
    roles: { workstation: ['echo', 'search', 'retrieve'] },
    gatewayOptions: { timing: { alertFlushMs: 100, webhookRetryBaseMs: 100 } },
    config: {
      http: { trustProxy: true },
      alerts: {
        rules: {
          'query-sweep': { threshold: 3 },
          'bulk-retrieve': { threshold: 2, bytes: 300_000 },
          'refusal-burst': { threshold: 3 },
          'password-spray': { threshold: 2 },
          'association-flood': { threshold: 40 },
        },
        schedule: { timeZone: 'UTC', roles: { viewer: ['mon-fri 07:00-19:00'] } },
        webhooks: [{ url: hook.url, secret: SECRET }],
      },
    },
  });
  t.teardown(() => env.stop());
  const { gw, orthanc, port } = env;
  const anomalies = (rule?: string): Record<string, any>[] =>
    gw.logs.filter((l) => l['alert']?.name === 'anomaly' && (rule === undefined || l['alert'].rule === rule)).map((l) => l['alert']);
  const flushed = (): Promise<void> => gw.gateway.flushAlerts();

  // Five patients, one study each; one study of three instances for the retrieve rule.
  for (let i = 1; i <= 5; i++) await uploadInstance(orthanc, makeInstance({ patientId: `SWEEP-${i}`, patientName: `Sweep^${i}`, pixelBytes: 1024 }).buffer);
  const bulkStudy = randomUid();
  for (let i = 0; i < 3; i++) await uploadInstance(orthanc, makeInstance({ studyUid: bulkStudy, patientId: 'SWEEP-1', pixelBytes: 1024 }).buffer);
  const big = makeInstance({ patientId: 'SWEEP-2', pixelBytes: 400 * 1024 });
  await uploadInstance(orthanc, big.buffer);

  const rita = await gw.addUser('rita', 'radiologist');
  const sam = await gw.addUser('sam', 'radiologist');
  const vera = await gw.addUser('vera', 'viewer');
  const ws = await env.addDevice('reading-ws', { role: 'workstation', aeTitles: ['WS01'] });
  const tokens = { rita: await gw.login(rita), sam: await gw.login(sam), vera: await gw.login(vera) };
  const as = (who: keyof typeof tokens, extra: Record<string, string> = {}): Record<string, string> => ({ authorization: `Bearer ${tokens[who]}`, ...extra });

  await t.test('normal traffic raises no anomaly alert', async (t) => {
    for (const who of ['rita', 'vera'] as const) {
      const r = await gw.request('GET', '/dicom-web/studies?PatientID=SWEEP-1', { headers: as(who, { accept: 'application/dicom+json' }) });
      t.equal(r.status, 200);
    }
    const find = await run('findscu', [...env.tls(ws), '-aet', 'WS01', '-aec', 'GATEWAY', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=SWEEP-2', '-k', 'StudyInstanceUID', '127.0.0.1', String(port)]);
    t.equal(find.code, 0, find.stderr);
    const meta = await gw.request('GET', `/dicom-web/studies/${big.studyUid}/series/${big.seriesUid}/instances/${big.sopInstanceUid}/metadata`, { headers: as('rita') });
    t.equal(meta.status, 200);
    await flushed();
    t.same(anomalies(), [], 'no rule fired');
  });

  await t.test('query-sweep: QIDO-RS results and C-FIND pending responses covering more patients than the threshold', async (t) => {
    const r = await gw.request('GET', '/dicom-web/studies?PatientName=Sweep*', { headers: as('sam', { accept: 'application/dicom+json' }) });
    t.equal(r.status, 200);
    t.equal((r.json() as unknown[]).length, 5, 'the PACS returned five studies');
    const alert = await waitFor(() => anomalies('query-sweep').find((a) => a.principal === 'sam'));
    t.match(alert, { rule: 'query-sweep', subject: 'sam', measure: 'patients', count: 5, threshold: 3, windowMinutes: 60, source: '127.0.0.1' });
    t.ok(Date.parse(alert.firstEvent) <= Date.parse(alert.lastEvent), 'first and last event named');
    const find = await run('findscu', [...env.tls(ws), '-aet', 'WS01', '-aec', 'GATEWAY', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientName=Sweep*', '-k', 'PatientID', '-k', 'StudyInstanceUID', '127.0.0.1', String(port)]);
    t.equal(find.code, 0, find.stderr);
    t.match(await waitFor(() => anomalies('query-sweep').find((a) => a.principal === 'reading-ws')), { count: 5, measure: 'patients' }, 'C-FIND: patients read from the pending responses');
    await gw.request('GET', '/dicom-web/studies?PatientName=Sweep*', { headers: as('sam', { accept: 'application/dicom+json' }) });
    await flushed();
    t.equal(anomalies('query-sweep').filter((a) => a.principal === 'sam').length, 1, 'once per rule, subject and window');
  });

  await t.test('bulk-retrieve: C-GET sub-operations and WADO bytes over the thresholds', async (t) => {
    const r = await runScu([CGetRequest.createStudyGetRequest(bulkStudy)], { port, callingAe: 'WS01', ca: env.caPem, cert: ws });
    t.equal(r.stored.length, 3, 'three instances came back');
    t.match(await waitFor(() => anomalies('bulk-retrieve').find((a) => a.principal === 'reading-ws')), { measure: 'instances', count: 3, threshold: 2 });
    const wado = await gw.request('GET', `/dicom-web/studies/${big.studyUid}/series/${big.seriesUid}/instances/${big.sopInstanceUid}`, { headers: as('rita', { accept: 'multipart/related; type="application/dicom"' }) });
    t.equal(wado.status, 200);
    t.match(await waitFor(() => anomalies('bulk-retrieve').find((a) => a.principal === 'rita')), { measure: 'bytes', threshold: 300_000 });
    t.ok((anomalies('bulk-retrieve').find((a) => a.principal === 'rita')?.count ?? 0) >= wado.body.length, 'the bytes sent are counted');
  });

  await t.test('refusal-burst: more refused requests than the threshold', async (t) => {
    for (let i = 0; i < 4; i++) {
      const r = await gw.request('DELETE', `/dicom-web/studies/${big.studyUid}`, { headers: as('vera') });
      t.equal(r.status, 403);
    }
    t.match(await waitFor(() => anomalies('refusal-burst').find((a) => a.principal === 'vera')), { subject: 'principal vera', measure: 'refusals', count: 4 });
  });

  await t.test('password-spray: one address failing logins for several usernames', async (t) => {
    for (const username of ['alice', 'bob', 'carol']) {
      const r = await gw.request('POST', '/auth/login', {
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
        body: JSON.stringify({ username, password: 'not-the-password', totp: '000000' }),
      });
      t.equal(r.status, 401);
    }
    t.match(await waitFor(() => anomalies('password-spray')[0]), { subject: '203.0.113.9', source: '203.0.113.9', measure: 'usernames', count: 3 });
  });

  await t.test('new-source: a principal from a network not seen for it', async (t) => {
    const r = await gw.request('GET', '/dicom-web/studies?PatientID=SWEEP-3', { headers: as('rita', { 'x-forwarded-for': '198.51.100.23' }) });
    t.equal(r.status, 200);
    t.match(await waitFor(() => anomalies('new-source').find((a) => a.principal === 'rita')), { network: '198.51.100.0/24', source: '198.51.100.23', knownNetworks: 1 });
    t.notOk(anomalies('new-source').some((a) => a.principal === 'sam'), 'a principal seen from one network only is learnt, not alerted');
  });

  await t.test('association-flood: more TLS handshakes from one address than the threshold per minute', async (t) => {
    for (let i = 0; i < 45; i++) {
      await new Promise<void>((resolve) => {
        const s = connect({ host: '127.0.0.1', port, ca: env.caPem, servername: 'localhost' }, () => { s.end(); resolve(); });
        s.on('error', () => resolve());
      });
    }
    t.match(await waitFor(() => anomalies('association-flood')[0]), { subject: '127.0.0.1', measure: 'handshakes', threshold: 40 });
  });

  await t.test('off-hours: the viewer role outside its schedule; a role without one stays quiet', async (t) => {
    // From Monday 10:00 to Saturday 03:00 UTC.
    clock.advance(5 * DAY - 7 * 3_600_000);
    const viewer = await gw.login(vera);
    const radiologist = await gw.login(rita);
    t.equal((await gw.request('GET', '/dicom-web/studies?PatientID=SWEEP-4', { headers: { authorization: `Bearer ${radiologist}` } })).status, 200);
    t.equal((await gw.request('GET', '/dicom-web/studies?PatientID=SWEEP-4', { headers: { authorization: `Bearer ${viewer}` } })).status, 200);
    t.match(await waitFor(() => anomalies('off-hours')[0]), { principal: 'vera', measure: 'accesses' });
    await flushed();
    t.notOk(anomalies('off-hours').some((a) => a.principal === 'rita'));
  });

  await t.test('every alert reached the webhook with a valid signature, after a retry', async (t) => {
    const fired = anomalies();
    await waitFor(() => hook.alerts().filter((a) => a.body.alert.name === 'anomaly').length >= fired.length, 15_000);
    t.equal(hook.badSignatures, 0);
    t.ok(hook.attempts > hook.alerts().length, 'the first delivery was refused and retried');
    const rules = new Set(hook.alerts().filter((a) => a.body.alert.name === 'anomaly').map((a) => a.body.alert.rule));
    t.same([...rules].sort(), ['association-flood', 'bulk-retrieve', 'new-source', 'off-hours', 'password-spray', 'query-sweep', 'refusal-burst']);
    t.notOk(JSON.stringify(hook.alerts()).includes('SWEEP-'), 'no patient ID in any alert');
  });
});
