// `pacs-gateway check-config` probes the configured PACS from this host without credentials: its DICOM
// and HTTP ports answer (as they must for the gateway), so the admin is told to firewall them.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { stringify } from 'yaml';
import { startOrthanc } from '../helpers/orthanc.js';
import { freePort } from '../helpers/ports.js';
import { pgw } from '../helpers/scan.js';

function workspace(t: Test, upstream: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-cc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'gateway.yaml'), stringify({ tls: { autoGenerate: true }, users: { file: 'users.yaml' }, upstream }));
  return dir;
}

t.test('the upstream PACS answers from the gateway host without authentication: reported, with the firewall reminder', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const dir = workspace(t, { dicomweb: orthanc.dicomwebUrl, dicom: { host: '127.0.0.1', port: orthanc.dicomPort, aeTitle: orthanc.aeTitle } });
  const r = await pgw(['check-config', '--config', 'gateway.yaml'], { cwd: dir });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /upstream PACS, probed from this host without credentials:/);
  t.match(r.stdout, new RegExp(`DICOM 127\\.0\\.0\\.1:${orthanc.dicomPort} \\(AE ORTHANC\\): answers without authentication: A-ASSOCIATE-RQ without credentials \\(calling AE PGW-SCAN, called AE ORTHANC\\) accepted over plain TCP; C-ECHO without credentials: 0x0000 success`));
  t.match(r.stdout, new RegExp(`DICOMweb ${orthanc.dicomwebUrl.replace(/\./g, '\\.')}: answers without authentication: GET /dicom-web/studies\\?limit=1 → 200`));
  t.match(r.stdout, new RegExp(`Firewall 127\\.0\\.0\\.1:${orthanc.dicomPort} and 127\\.0\\.0\\.1:${orthanc.httpPort} so that only this host \\(the gateway\\) reaches them`));
  t.match(r.stdout, /configuration OK/);
  t.notMatch(r.stderr, /does not answer/);
  t.same((await orthanc.dicomCommands()).map((c) => [c.type, c.callingAet, c.calledAet]), [['Echo', 'PGW-SCAN', 'ORTHANC']], 'one C-ECHO to the configured AE title, nothing else');

  const offline = await pgw(['check-config', '--config', 'gateway.yaml', '--offline'], { cwd: dir });
  t.equal(offline.code, 0, offline.stderr);
  t.notMatch(offline.stdout, /upstream PACS/, '--offline skips the probe');
});

t.test('an upstream PACS that does not answer is a warning, not an error', async (t) => {
  const [dicomPort, httpPort] = [await freePort(), await freePort()];
  const dir = workspace(t, { dicomweb: `http://127.0.0.1:${httpPort}/dicom-web`, dicom: { host: '127.0.0.1', port: dicomPort, aeTitle: 'PACS' } });
  const r = await pgw(['check-config', '--config', 'gateway.yaml'], { cwd: dir });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, new RegExp(`warning: upstream DICOM 127\\.0\\.0\\.1:${dicomPort} \\(AE PACS\\) does not answer from this host \\(connection refused: nothing listens on this port\\): the gateway cannot reach the PACS`));
  t.match(r.stderr, new RegExp(`warning: upstream DICOMweb http://127\\.0\\.0\\.1:${httpPort}/dicom-web does not answer from this host`));
  t.notMatch(r.stdout, /Firewall/);
});
