// The metrics listener scraped by a real Prometheus; promtool accepts the exposition and the example alert rules;
// the dashboard and the rules only use metrics that exist; no username, address or UID becomes a label.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { makeInstance } from '../helpers/instances.js';
import { startOrthanc, uploadInstance } from '../helpers/orthanc.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { run, waitFor } from '../helpers/tools.js';

const RULES = join(process.cwd(), 'docs/monitoring/prometheus-alerts.yml');
const DASHBOARD = join(process.cwd(), 'docs/monitoring/grafana-dashboard.json');

/** Metric families named in an expression (histogram series map to their family). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/pacs_gateway_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

t.test('Prometheus metrics', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc, config: { alerts: { rules: { 'refusal-burst': { threshold: 1 } } } } });
  t.teardown(() => gw.stop());
  const inst = makeInstance({ patientId: 'METRICS-1', pixelBytes: 1024 });
  await uploadInstance(orthanc, inst.buffer);
  const user = await gw.addUser('rita', 'viewer');
  const token = await gw.login(user);
  const auth = { authorization: `Bearer ${token}` };
  t.equal((await gw.request('GET', '/dicom-web/studies?PatientID=METRICS-1', { headers: auth })).status, 200);
  t.equal((await gw.request('DELETE', `/dicom-web/studies/${inst.studyUid}`, { headers: auth })).status, 403);
  t.equal((await gw.request('DELETE', `/dicom-web/studies/${inst.studyUid}`, { headers: auth })).status, 403);
  await gw.gateway.flushAlerts();
  const scrape = async (): Promise<string> => {
    const r = await fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`);
    t.equal(r.status, 200);
    return r.text();
  };
  const exposition = await scrape();

  t.test('on its own loopback listener, not the public HTTPS port', async (t) => {
    t.equal(gw.gateway.addresses?.metrics?.address, '127.0.0.1');
    t.not(gw.metricsPort, gw.httpsPort);
    t.equal((await gw.request('GET', '/metrics')).status, 404, 'the HTTPS listener does not serve metrics');
    t.equal((await fetch(`http://127.0.0.1:${gw.metricsPort}/other`)).status, 404);
  });

  t.test('promtool check metrics accepts the exposition', async (t) => {
    const r = await run('promtool', ['check', 'metrics'], { input: exposition });
    t.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  });

  t.test('the series the issue names are there, with bounded labels', async (t) => {
    for (const name of [
      'associations_total', 'dimse_commands_total', 'http_requests_total', 'upstream_seconds', 'bytes_total', 'tls_handshake_failures_total',
      'logins_total', 'lockouts_total', 'alerts_total', 'sessions_active', 'associations_open', 'state_store_up', 'certificate_expiry_seconds', 'reloads_total',
    ]) t.match(exposition, new RegExp(`^# TYPE pacs_gateway_${name} `, 'm'), name);
    t.match(exposition, /pacs_gateway_http_requests_total\{service="qido-rs",decision="allow",status="200"\} 1/);
    t.match(exposition, /pacs_gateway_http_requests_total\{service="delete",decision="deny",status="403"\} 2/);
    t.match(exposition, /pacs_gateway_logins_total\{result="success",channel="https"\} 1/);
    t.match(exposition, /pacs_gateway_alerts_total\{rule="refusal-burst"\} 2/, 'for the principal and for the address');
    t.match(exposition, /pacs_gateway_certificate_expiry_seconds\{kind="server"\} \d+/);
    t.match(exposition, /pacs_gateway_state_store_up 1/);
    t.match(exposition, /pacs_gateway_sessions_active 1/);
    for (const secret of ['rita', '127.0.0.1', inst.studyUid, 'METRICS-1']) t.notOk(exposition.includes(secret), `${secret} is not a label`);
  });

  t.test('a real Prometheus scrapes it and answers queries', async (t) => {
    const prom = await startPrometheus([`127.0.0.1:${gw.metricsPort}`], [RULES]);
    t.teardown(() => prom.stop());
    const result = await waitFor(async () => {
      const r = await prom.query('pacs_gateway_http_requests_total{service="qido-rs",status="200"}');
      return r.length > 0 ? r : undefined;
    }, 30_000, 500);
    t.match(result[0]?.metric, { job: 'pacs-gateway', service: 'qido-rs', decision: 'allow', status: '200' });
    t.equal(result[0]?.value[1], '1');
    const up = await prom.query('up{job="pacs-gateway"}');
    t.equal(up[0]?.value[1], '1');
    // A new burst while Prometheus watches: the example rule sees the counter rise.
    const vera = await gw.login(await gw.addUser('vera', 'viewer'));
    for (let i = 0; i < 2; i++) t.equal((await gw.request('DELETE', `/dicom-web/studies/${inst.studyUid}`, { headers: { authorization: `Bearer ${vera}` } })).status, 403);
    await gw.gateway.flushAlerts();
    const alerts = await waitFor(async () => {
      const r = await fetch(`${prom.url}/api/v1/alerts`);
      const body = await r.json() as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
      return body.data.alerts.find((a) => a.labels['alertname'] === 'PacsGatewayAnomaly');
    }, 30_000, 500);
    t.match(alerts.labels, { rule: 'refusal-burst' }, 'the example rule fires for the anomaly');
  });

  t.test('promtool check rules accepts the example alert rules; they and the dashboard use only existing metrics', async (t) => {
    const r = await run('promtool', ['check', 'rules', RULES]);
    t.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    const families = new Set([...exposition.matchAll(/^# TYPE (pacs_gateway_[a-z_]+) /gm)].map((m) => m[1]));
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exprs = [...dashboard.panels.flatMap((p) => p.targets.map((x) => x.expr)), ...[...readFileSync(RULES, 'utf8').matchAll(/expr: (.+)/g)].map((m) => m[1] as string)];
    t.ok(dashboard.panels.length >= 10, 'the dashboard has panels');
    for (const expr of exprs) for (const m of metricsIn(expr)) t.ok(families.has(m), `${m} (in ${expr}) exists`);
  });
});
