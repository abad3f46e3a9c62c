// Proves the test harness against the real parts: Orthanc + DICOMweb plugin, dcmtk, dcmjs instances, activity records.
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  datasetAfterMeta,
  makeInstance,
  metaEnd,
  SopClass,
  transferSyntaxOf,
  TransferSyntax,
  writeInstance,
} from '../helpers/instances.js';
import { countInstances, getInstanceFile, startOrthanc, uploadInstance } from '../helpers/orthanc.js';
import { freePort } from '../helpers/ports.js';
import { oathtool, run, startProcess, waitFor, waitForPort } from '../helpers/tools.js';

const started = Date.now();
const orthanc = await startOrthanc({ aeTitle: 'PGWTEST' });
t.teardown(() => orthanc.stop());
t.comment(`Orthanc up in ${Date.now() - started} ms (HTTP ${orthanc.httpPort}, DICOM ${orthanc.dicomPort})`);

const workDir = await mkdtemp(join(tmpdir(), 'pgw-harness-'));
t.teardown(() => rm(workDir, { recursive: true, force: true }));

t.test('instances: meta group parsing and generated geometry', async (t) => {
  const small = makeInstance({ pixelBytes: 100 });
  t.equal(small.pixelBytes, 128, 'tiny pixel data is rounded up to whole 16-column rows');
  t.match(small.sopInstanceUid, /^2\.25\.\d{1,39}$/);
  t.ok(small.sopInstanceUid.length <= 64);
  t.equal(small.buffer.toString('latin1', 128, 132), 'DICM');
  const groupLength = small.buffer.readUInt32LE(132 + 8);
  t.equal(metaEnd(small.buffer), 132 + 12 + groupLength, 'walking group 0002 agrees with (0002,0000)');
  t.equal(datasetAfterMeta(small.buffer).readUInt16LE(0), 0x0008, 'data set starts with group 0008');
  t.equal(transferSyntaxOf(small.buffer), TransferSyntax.explicitLittle);
  t.throws(() => datasetAfterMeta(Buffer.alloc(200)), /DICM/);
  const big = makeInstance({ pixelBytes: 70 * 1024 * 1024 });
  t.equal(big.pixelBytes, 140 * 512 * 512 * 2, 'more than 64 MiB becomes 512×512 frames');
});

t.test('REST upload round-trips the data set byte for byte', async (t) => {
  for (const [label, inst] of [
    ['CT, explicit VR LE', makeInstance({ pixelBytes: 512 * 1024 })],
    ['SC, implicit VR LE', makeInstance({ sopClassUid: SopClass.secondaryCapture, transferSyntaxUid: TransferSyntax.implicitLittle })],
  ] as const) {
    const uploaded = await uploadInstance(orthanc, inst.buffer);
    t.equal(uploaded.Status, 'Success', `${label}: stored`);
    const stored = await getInstanceFile(orthanc, inst.sopInstanceUid);
    if (stored === undefined) {
      t.fail(`${label}: not found`);
      continue;
    }
    t.equal(transferSyntaxOf(stored), inst.transferSyntaxUid, `${label}: transfer syntax kept`);
    t.ok(datasetAfterMeta(stored).equals(datasetAfterMeta(inst.buffer)), `${label}: data set identical`);
  }
  t.equal(await getInstanceFile(orthanc, '2.25.1'), undefined, 'unknown SOP Instance UID → undefined');
});

t.test('QIDO-RS lists the uploaded study; the request log shows it', async (t) => {
  const inst = makeInstance({ patientName: 'Qido^Check' });
  await uploadInstance(orthanc, inst.buffer);
  const before = await orthanc.httpRequests();
  t.notOk(before.includes('POST /instances'), 'harness requests are left out of httpRequests()');
  t.ok((await orthanc.httpRequests({ includeHarness: true })).includes('POST /instances'), 'unless asked for');

  const response = await fetch(`${orthanc.dicomwebUrl}/studies?StudyInstanceUID=${inst.studyUid}`, {
    headers: { accept: 'application/dicom+json', authorization: 'Bearer visible-in-log' },
  });
  t.equal(response.status, 200);
  const studies = (await response.json()) as Array<Record<string, { Value?: unknown[] }>>;
  t.same(studies.map((s) => s['0020000D']?.Value?.[0]), [inst.studyUid]);
  const all = (await (await fetch(`${orthanc.dicomwebUrl}/studies`)).json()) as unknown[];
  t.ok(all.length >= 3, 'unfiltered QIDO lists every study');

  const after = await orthanc.httpRequests();
  t.same(after.slice(before.length), ['GET /dicom-web/studies', 'GET /dicom-web/studies'], 'query strings are not recorded');
  const details = await orthanc.httpRequestDetails();
  t.equal(details.at(-2)?.headers.authorization, 'Bearer visible-in-log', 'headers as Orthanc got them');
  t.equal(details.at(-2)?.ip, '127.0.0.1');
});

t.test('dcmtk echoscu and storescu against Orthanc; DICOM activity is counted', async (t) => {
  const before = await orthanc.activity();
  const echo = await run('echoscu', ['-aec', orthanc.aeTitle, '127.0.0.1', String(orthanc.dicomPort)]);
  t.equal(echo.code, 0, 'echoscu exits 0', { stderr: echo.stderr });
  const afterEcho = await orthanc.activity();
  t.equal(afterEcho.dicomAssociations, before.dicomAssociations + 1, 'one more association');
  t.same(afterEcho.dicomCommands.slice(before.dicomCommands.length), [
    { type: 'Echo', callingAet: 'ECHOSCU', calledAet: orthanc.aeTitle, ip: '127.0.0.1' },
  ]);
  t.same(afterEcho.httpRequests, before.httpRequests, 'no HTTP request from DICOM traffic');

  const a = makeInstance({ pixelBytes: 512 * 1024 });
  const b = makeInstance({ studyUid: a.studyUid, seriesUid: a.seriesUid, sopClassUid: SopClass.secondaryCapture });
  const files = [await writeInstance(workDir, a), await writeInstance(workDir, b)];
  const store = await run('storescu', ['-aec', orthanc.aeTitle, '-aet', 'MODALITY', '127.0.0.1', String(orthanc.dicomPort), ...files]);
  t.equal(store.code, 0, 'storescu exits 0', { stderr: store.stderr });
  for (const inst of [a, b]) {
    const stored = await getInstanceFile(orthanc, inst.sopInstanceUid);
    t.ok(stored && datasetAfterMeta(stored).equals(datasetAfterMeta(inst.buffer)), `C-STORE kept ${inst.sopClassUid} byte for byte`);
  }
  const afterStore = await orthanc.activity();
  t.equal(afterStore.dicomAssociations, afterEcho.dicomAssociations + 1, 'one association for both files');
  t.same(afterStore.dicomCommands.slice(afterEcho.dicomCommands.length).map((c) => `${c.type} ${c.callingAet}`), [
    'Store MODALITY',
    'Store MODALITY',
  ]);

  // Garbage, or nothing at all, on the DICOM port is a connection but not an association.
  for (const bytes of [Buffer.from('GARBAGE GARBAGE GARBAGE'), Buffer.alloc(0)]) {
    const previous = await orthanc.activity();
    await new Promise<void>((resolve) => {
      const socket = connect(orthanc.dicomPort, '127.0.0.1', () => socket.end(bytes));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    const now = await waitFor(async () => {
      const a = await orthanc.activity();
      return a.dicomConnections === previous.dicomConnections + 1 && a;
    });
    t.equal(now.dicomAssociations, previous.dicomAssociations, `${bytes.length} bytes: a connection, no association`);
  }
});

t.test('a 50 MB instance goes through storescu byte for byte', async (t) => {
  const big = makeInstance({ pixelBytes: 50 * 1024 * 1024 });
  const file = await writeInstance(workDir, big);
  const store = await run('storescu', ['-aec', orthanc.aeTitle, '127.0.0.1', String(orthanc.dicomPort), file]);
  t.equal(store.code, 0, 'storescu exits 0', { stderr: store.stderr });
  t.comment(`storescu 50 MB: ${store.durationMs} ms`);
  const stored = await getInstanceFile(orthanc, big.sopInstanceUid);
  t.ok(stored && datasetAfterMeta(stored).equals(datasetAfterMeta(big.buffer)), 'data set identical');
});

t.test('C-FIND, C-GET and C-MOVE (to a storescp destination) are recorded', async (t) => {
  const inst = makeInstance();
  await uploadInstance(orthanc, inst.buffer);
  const storescpPort = await freePort();
  const dest = join(workDir, 'storescp');
  await mkdir(dest);
  const storescp = await startProcess('storescp', ['-aet', 'DEST', '-od', dest, String(storescpPort)]);
  t.teardown(() => storescp.stop());
  await waitForPort(storescpPort);
  const moving = await startOrthanc({ modalities: { dest: { AET: 'DEST', Host: '127.0.0.1', Port: storescpPort } } });
  t.teardown(() => moving.stop());
  await uploadInstance(moving, inst.buffer);
  const before = await moving.activity();

  const q = ['-aec', moving.aeTitle, '127.0.0.1', String(moving.dicomPort), '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${inst.studyUid}`];
  const find = await run('findscu', q);
  t.equal(find.code, 0, 'findscu exits 0', { stderr: find.stderr });
  t.match(find.stderr, inst.studyUid, 'C-FIND response names the study');
  const getDir = join(workDir, 'getscu');
  await mkdir(getDir);
  const get = await run('getscu', [...q, '-od', getDir]);
  t.equal(get.code, 0, 'getscu exits 0', { stderr: get.stderr });
  const got = await readdir(getDir);
  t.equal(got.length, 1, 'C-GET wrote one file');
  const move = await run('movescu', [...q, '-aem', 'DEST']);
  t.equal(move.code, 0, 'movescu exits 0', { stderr: move.stderr });
  await waitFor(async () => (await readdir(dest)).length === 1);
  const moved = await readFile(join(dest, (await readdir(dest))[0] ?? ''));
  t.ok(datasetAfterMeta(moved).equals(datasetAfterMeta(inst.buffer)), 'C-MOVE delivered the data set byte for byte');

  const after = await moving.activity();
  t.same(after.dicomCommands.slice(before.dicomCommands.length).map((c) => c.type), ['Find', 'Get', 'Move']);
  t.equal(after.dicomAssociations - before.dicomAssociations, 3, 'one association per tool (the C-MOVE sub-association is outgoing)');
  t.equal(await countInstances(moving), 1);
});

t.test('oathtool and run()', async (t) => {
  const code = await oathtool('JBSWY3DPEHPK3PXP', { now: new Date('2024-01-01T00:00:00Z') });
  t.equal(code, '432690');
  const slow = await run('sleep', ['5'], { timeoutMs: 200 });
  t.equal(slow.timedOut, true);
  t.equal(slow.code, null);
  const piped = await run('cat', [], { input: 'abc' });
  t.equal(piped.stdout, 'abc');
  const env = await run('sh', ['-c', 'echo $TCP_NODELAY; exit 3']);
  t.same([env.code, env.stdout.trim()], [3, '1']);
  await t.rejects(run('/nonexistent/tool', []), { code: 'ENOENT' });
});

t.test('stop() stops Orthanc and removes its directory', async (t) => {
  const extra = await startOrthanc();
  await extra.stop();
  await extra.stop();
  await t.rejects(fetch(`${extra.httpUrl}/system`));
  await t.rejects(readdir(extra.dir), { code: 'ENOENT' });
});

t.teardown(() => {
  // Printed at the end so people can see what the harness costs.
  console.log(`# harness test took ${Date.now() - started} ms`);
});
