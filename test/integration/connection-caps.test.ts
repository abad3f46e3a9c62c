// Connection caps on both ports, per source address and overall, counted from the TCP accept: a
// connection over a cap is closed before its TLS handshake, and other addresses keep being served.

import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { associateWithPassword, openTls, type TlsAttempt } from '../helpers/flood.js';
import { startOrthanc } from '../helpers/orthanc.js';
import { waitFor } from '../helpers/tools.js';

const orthanc = await startOrthanc();
t.teardown(() => orthanc.stop());
const gw = await startGateway({
  orthanc, dicom: true,
  config: {
    http: { maxConnections: 8, maxConnectionsPerAddress: 3 },
    // A long ARTIM: the held DICOM connections send no A-ASSOCIATE-RQ while the test runs.
    dicom: { maxConnections: 6, maxConnectionsPerAddress: 2, artimSeconds: 60 },
  },
});
t.teardown(() => gw.stop());
const rita = await gw.addUser('rita', 'radiologist');
const token = await gw.login(rita);

const held: TlsAttempt[] = [];
const hold = async (port: number, from: string): Promise<TlsAttempt> => {
  const a = await openTls(port, gw.caPem, from);
  held.push(a);
  return a;
};
const releaseAll = (): void => { for (const a of held.splice(0)) a.socket.destroy(); };
t.teardown(releaseAll);
const refusals = (listener: string, scope: string): Record<string, any>[] =>
  gw.logs.filter((l) => l['alert']?.name === 'connections.refused' && l['alert'].listener === listener && l['alert'].scope === scope).map((l) => l['alert']);

/** Holds `n` connections, each from its own address, retrying a slot while the gateway still counts connections the test closed before. */
async function fill(port: number, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    await waitFor(async () => {
      const a = await openTls(port, gw.caPem, `${prefix}${i + 1}`);
      if (a.connected) { held.push(a); return true; }
      return false;
    }, 10_000, 50);
  }
}

for (const [name, port, perAddress, overall] of [['https', gw.httpsPort, 3, 8], ['dicom', gw.dicomPort, 2, 6]] as const) {
  t.test(`${name}: ${perAddress} connections per address, then the next one from it is closed before the TLS handshake`, async (t) => {
    t.teardown(releaseAll);
    for (let i = 0; i < perAddress; i++) t.ok((await hold(port, '127.0.0.3')).connected, `connection ${i + 1} from 127.0.0.3`);
    const over = await hold(port, '127.0.0.3');
    t.notOk(over.connected, 'one more from 127.0.0.3 is refused');
    t.match(refusals(name, 'address')[0], { listener: name, scope: 'address', source: '127.0.0.3', addressKey: '127.0.0.3', limit: perAddress }, 'with a connections.refused alert');
    t.ok(gw.logs.some((l) => l['msg'] === 'connection refused: connection cap reached' && l['listener'] === name && l['source'] === '127.0.0.3'), 'and a log line');

    if (name === 'https') {
      const r = await gw.request('GET', '/dicom-web/studies', { localAddress: '127.0.0.4', headers: { authorization: `Bearer ${token}` } });
      t.equal(r.status, 200, 'a DICOMweb request from another address is served meanwhile');
    } else {
      gw.clock.advance(30_000);
      const answer = await associateWithPassword(port, gw.caPem, { username: 'rita', passcode: `${rita.password}${await gw.code(rita)}`, localAddress: '127.0.0.4', callingAe: 'RITA_WS' });
      t.same(answer, { kind: 'ac' }, 'an association from another address is accepted meanwhile');
    }

    held.find((a) => a.connected)?.socket.destroy();
    const again = await waitFor(async () => {
      const a = await openTls(port, gw.caPem, '127.0.0.3');
      if (a.connected) { held.push(a); return a; }
      return undefined;
    }, 10_000, 50);
    t.ok(again.connected, 'once one of them closes, 127.0.0.3 may connect again');
  });

  t.test(`${name}: ${overall} connections overall, then the next one from anywhere is closed`, async (t) => {
    t.teardown(releaseAll);
    await fill(port, overall, '127.0.1.');
    const over = await openTls(port, gw.caPem, '127.0.2.1');
    held.push(over);
    t.notOk(over.connected, `the ${overall + 1}th connection is refused, from a fresh address too`);
    t.match(refusals(name, 'listener')[0], { listener: name, scope: 'listener', source: '127.0.2.1', limit: overall });
    releaseAll();
    const after = await waitFor(async () => {
      const a = await openTls(port, gw.caPem, '127.0.2.1');
      a.socket.destroy();
      return a.connected;
    }, 10_000, 50);
    t.ok(after, 'and accepted again once connections close');
  });
}
