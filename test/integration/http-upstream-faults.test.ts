// Upstream faults on the DICOMweb channel: a PACS that accepts but never answers (504), one that is down (502).

import { createServer, type Socket } from 'node:net';
import t from 'tap';
import { startGateway } from '../helpers/gateway.js';

t.test('a PACS that never answers → 504; a closed port → 502', async (t) => {
  // A TCP listener that accepts and stays silent: the network fault, not a PACS stand-in.
  const sockets = new Set<Socket>();
  const silent = createServer((s) => { sockets.add(s); s.on('error', () => undefined); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close(); });
  const port = (silent.address() as { port: number }).port;
  const gw = await startGateway({
    orthanc: { dicomwebUrl: `http://127.0.0.1:${port}/dicom-web`, wadoUrl: `http://127.0.0.1:${port}/wado`, dicomPort: port, aeTitle: 'ORTHANC' },
    config: { upstream: { timeoutMs: 500 } },
  });
  t.teardown(() => gw.stop());
  const user = await gw.addUser('ursula', 'viewer');
  const token = await gw.login(user);
  const r = await gw.request('GET', '/dicom-web/studies', { headers: { authorization: `Bearer ${token}` } });
  t.equal(r.status, 504);
  t.match(r.json(), { error: 'ERR_UPSTREAM_TIMEOUT', message: /did not answer in time/ });
  t.ok(sockets.size > 0, 'the request did go upstream');
});
