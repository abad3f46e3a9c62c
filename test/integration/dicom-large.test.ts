// A 50 MB instance through the DIMSE guard streams with flat memory and arrives byte-identical.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { datasetAfterMeta, makeInstance, writeInstance } from '../helpers/instances.js';
import { getInstanceFile } from '../helpers/orthanc.js';
import { run } from '../helpers/tools.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';

const MB = 1024 * 1024;

// A full GC on demand, to tell memory the relay holds from garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

t.test('50 MB C-STORE through the gateway', async (t) => {
  const env = await startDicomEnv({ roles: { modality: ['echo', 'store'] } });
  t.teardown(() => env.stop());
  const ct = await env.addDevice('ct-scanner-1', { role: 'modality', aeTitles: ['CT01'] });
  const args = [...env.tls(ct), '-aet', 'CT01', '-aec', 'GATEWAY', '--max-pdu', '131072', '127.0.0.1', String(env.port)];

  // Warm up the TLS and relay paths with a small instance, so the baseline includes them.
  const small = await run('storescu', [...args, await writeInstance(env.dir, makeInstance())]);
  t.equal(small.code, 0, small.stderr);

  const big = makeInstance({ pixelBytes: Number(process.env.PGW_BIG_MB ?? 50) * MB });
  const file = await writeInstance(env.dir, big);
  const expected = datasetAfterMeta(big.buffer);
  gc();
  const baseline = process.memoryUsage();
  let peakRss = baseline.rss;
  let peakLive = baseline.arrayBuffers;
  let samples = 0;
  const rssSampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 10);
  const sampler = setInterval(() => {
    gc();
    peakLive = Math.max(peakLive, process.memoryUsage().arrayBuffers);
    samples++;
  }, 200);
  const store = await run('storescu', [...args, file], { timeoutMs: 120_000 });
  clearInterval(sampler);
  clearInterval(rssSampler);
  t.equal(store.code, 0, `storescu: ${store.stderr}`);
  const growth = (peakRss - baseline.rss) / MB;
  const live = (peakLive - baseline.arrayBuffers) / MB;
  t.comment(`gateway process while relaying ${big.buffer.length / MB | 0} MB in ${store.durationMs} ms: RSS +${growth.toFixed(1)} MB at peak, live Buffers +${live.toFixed(2)} MB at peak over ${samples} samples`);
  t.ok(samples >= 2, 'sampled during the transfer');
  t.ok(live < 4, 'the relay holds only a few PDUs in flight (live Buffer memory after GC)');
  t.ok(growth < 32, 'RSS stays flat (well under the size of the instance)');

  const stored = await getInstanceFile(env.orthanc, big.sopInstanceUid);
  t.ok(stored !== undefined && datasetAfterMeta(stored).equals(expected), 'Orthanc holds the same data set, byte for byte');
});
