// The Orthanc settings of docs/deployment/orthanc.json on a real Orthanc behind the gateway: only the
// AE titles it lists get in (DicomAlwaysAllow* false), each with its own permissions, even through the gateway.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { datasetAfterMeta, makeInstance, writeInstance } from '../helpers/instances.js';
import { getInstanceFile } from '../helpers/orthanc.js';
import { run } from '../helpers/tools.js';
import { startDicomEnv } from '../dicom/helpers/dicom-env.js';

const deployed = JSON.parse(readFileSync('docs/deployment/orthanc.json', 'utf8')) as Record<string, unknown>;
const DICOM_KEYS = ['DicomAet', 'DicomCheckCalledAet', 'DicomCheckModalityHost', 'DicomModalities',
  'DicomAlwaysAllowEcho', 'DicomAlwaysAllowStore', 'DicomAlwaysAllowFind', 'DicomAlwaysAllowFindWorklist', 'DicomAlwaysAllowGet', 'DicomAlwaysAllowMove'];

t.test('the deployment\'s Orthanc DICOM settings behind the gateway', async (t) => {
  const env = await startDicomEnv({
    roles: { modality: ['echo', 'store', 'search'], technologist: ['echo', 'store'] },
    orthanc: { config: Object.fromEntries(DICOM_KEYS.map((k) => [k, deployed[k]])) },
  });
  t.teardown(() => env.stop());
  const { orthanc, gw, port } = env;
  const peer = ['127.0.0.1', String(port)];
  const ct = await env.addDevice('ct01', { role: 'modality', aeTitles: ['CT01'] });

  await t.test('a listed AE (CT01, AllowStore) stores through the gateway', async (t) => {
    const inst = makeInstance();
    const store = await run('storescu', [...env.tls(ct), '-aet', 'CT01', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, inst)]);
    t.equal(store.code, 0, `storescu: ${store.stderr}`);
    const stored = await getInstanceFile(orthanc, inst.sopInstanceUid);
    t.ok(stored !== undefined && datasetAfterMeta(stored).equals(datasetAfterMeta(inst.buffer)), 'stored byte-identical after group 0002');
  });

  await t.test('the PACS\'s per-AE permissions still apply behind the gateway: CT01 may not C-FIND', async (t) => {
    const find = await run('findscu', [...env.tls(ct), '-aet', 'CT01', '-aec', 'GATEWAY', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', ...peer]);
    t.match(gw.auditEvents('dicom.command').at(-1), { command: 'C-FIND-RQ', decision: 'allow' }, 'the gateway allows it (role modality)');
    // Orthanc 1.10 aborts an association whose AE may not C-FIND.
    t.match(find.stderr + find.stdout, /Find Failed[\s\S]*Peer aborted Association/, 'Orthanc refuses it');
    t.notMatch(find.stderr + find.stdout, /Received Final Find Response/, 'no answer');
  });

  await t.test('an AE the PACS does not list is refused by the PACS, even from the gateway', async (t) => {
    const theo = await gw.addUser('theo', 'technologist');
    const store = await run('storescu', [...env.tls(), '--user', 'theo', '--password', await env.passcode(theo), '-aet', 'WS-OTHER', '-aec', 'GATEWAY', ...peer, await writeInstance(env.dir, makeInstance())]);
    t.not(store.code, 0);
    t.match(store.stderr + store.stdout, /Association Rejected/);
    t.match(gw.auditEvents('dicom.association').at(-1), { decision: 'deny', reason: 'upstream-rejected', principal: 'theo', callingAe: 'WS-OTHER' });
  });

  await t.test('directly (without the gateway) an unknown AE is refused as well', async (t) => {
    const echo = await run('echoscu', ['-aet', 'INTRUDER', '-aec', 'ORTHANC', '127.0.0.1', String(orthanc.dicomPort)]);
    t.not(echo.code, 0);
    t.match(echo.stderr + echo.stdout, /Association Rejected/);
  });
});
