// Two gateway replicas on one Redis count together: a sweep split across them fires once, on whichever crosses the threshold.

import t from 'tap';
import { redisStateConfig, startGateway } from '../helpers/gateway.js';
import { makeInstance } from '../helpers/instances.js';
import { startOrthanc, uploadInstance } from '../helpers/orthanc.js';
import { startRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/tools.js';

t.test('alert windows are shared by replicas through Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.destroy());
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  for (let i = 1; i <= 6; i++) await uploadInstance(orthanc, makeInstance({ patientId: `REPL-${i}`, pixelBytes: 1024 }).buffer);
  const shared: Record<string, unknown> = { ...redisStateConfig(redis), alerts: { rules: { 'query-sweep': { threshold: 4 } } } };
  const a = await startGateway({ orthanc, config: shared, gatewayOptions: { timing: { alertFlushMs: 100 } } });
  t.teardown(() => a.stop());
  const b = await startGateway({ orthanc, config: shared, gatewayOptions: { timing: { alertFlushMs: 100 } } });
  t.teardown(() => b.stop());
  const sam = await a.addUser('sam', 'radiologist');
  const token = await a.login(sam);
  const query = (gw: typeof a, ids: number[]): Promise<number[]> => Promise.all(ids.map(async (i) => {
    const r = await gw.request('GET', `/dicom-web/studies?PatientID=REPL-${i}`, { headers: { authorization: `Bearer ${token}` } });
    return r.status;
  }));
  const anomalies = (): Record<string, any>[] => [...a.logs, ...b.logs].filter((l) => l['alert']?.name === 'anomaly').map((l) => l['alert']);

  t.same(await query(a, [1, 2, 3]), [200, 200, 200], 'three patients through replica A');
  await a.gateway.flushAlerts();
  t.same(anomalies(), [], 'under the threshold on A alone');
  t.same(await query(b, [4, 5, 6]), [200, 200, 200], 'three more through replica B (same session: the store is shared)');
  await b.gateway.flushAlerts();
  const alert = await waitFor(() => anomalies()[0]);
  t.match(alert, { rule: 'query-sweep', principal: 'sam', count: 6, threshold: 4 }, 'six patients counted across both replicas');
  t.ok(b.logs.some((l) => l['alert']?.rule === 'query-sweep'), 'raised by B, whose addition crossed the threshold');
  t.same(await query(a, [1, 4]), [200, 200]);
  await a.gateway.flushAlerts();
  await b.gateway.flushAlerts();
  t.equal(anomalies().length, 1, 'neither replica raises it again within the window');
  const keys = await (async () => { const c = redis.client(); try { return await c.keys('*'); } finally { c.disconnect(); } })();
  const prefix = (shared['state'] as { keyPrefix: string }).keyPrefix;
  t.ok(keys.some((k) => k.startsWith(`${prefix}alert:w:query-sweep:`)), 'the window lives in Redis under the key prefix');
  t.ok(keys.every((k) => !k.includes('REPL-')), 'patient IDs never reach Redis (hashed)');
});
