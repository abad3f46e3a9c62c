// Unit tests for the DICOMweb route classifier: every route kind, and every trick refused.

import t from 'tap';
import { classifyDicomweb, classifyWadoUri } from '../../src/http/classify-dicomweb.js';

const S = '1.2.840.113619.2.55.3';
const SE = '1.2.3.4.5';
const I = '2.25.123456789';

t.test('QIDO-RS is search', async (t) => {
  for (const rest of ['studies', 'series', 'instances', `studies/${S}/series`, `studies/${S}/instances`, `studies/${S}/series/${SE}/instances`]) {
    t.match(classifyDicomweb('GET', rest, 'PatientID=1*'), { ok: true, action: 'search', service: 'qido-rs' }, rest);
  }
  t.match(classifyDicomweb('HEAD', 'studies'), { ok: true, action: 'search' });
  t.match(classifyDicomweb('GET', `studies/${S}/series`), { studyUid: S });
});

t.test('WADO-RS is retrieve, with the UIDs', async (t) => {
  const cases: [string, Record<string, string>][] = [
    [`studies/${S}`, { studyUid: S }],
    [`studies/${S}/metadata`, { studyUid: S }],
    [`studies/${S}/rendered`, { studyUid: S }],
    [`studies/${S}/series/${SE}`, { studyUid: S, seriesUid: SE }],
    [`studies/${S}/series/${SE}/thumbnail`, { seriesUid: SE }],
    [`studies/${S}/series/${SE}/instances/${I}`, { instanceUid: I }],
    [`studies/${S}/series/${SE}/instances/${I}/metadata`, { instanceUid: I }],
    [`studies/${S}/series/${SE}/instances/${I}/frames/1,2,3`, { instanceUid: I }],
    [`studies/${S}/series/${SE}/instances/${I}/frames/1/rendered`, { instanceUid: I }],
    [`studies/${S}/series/${SE}/instances/${I}/bulk/7fe00010`, { instanceUid: I }],
    [`studies/${S}/series/${SE}/instances/${I}/bulk/00540016/0/00181072`, { instanceUid: I }],
  ];
  for (const [rest, uids] of cases) t.match(classifyDicomweb('GET', rest), { ok: true, action: 'retrieve', service: 'wado-rs', ...uids }, rest);
});

t.test('STOW-RS is store; DELETE is delete', async (t) => {
  t.match(classifyDicomweb('POST', 'studies'), { ok: true, action: 'store', service: 'stow-rs' });
  t.match(classifyDicomweb('POST', `studies/${S}`), { ok: true, action: 'store', studyUid: S });
  t.match(classifyDicomweb('DELETE', `studies/${S}`), { ok: true, action: 'delete' });
  t.match(classifyDicomweb('DELETE', `studies/${S}/series/${SE}/instances/${I}`), { ok: true, action: 'delete', instanceUid: I });
});

t.test('tricks and non-routes are refused', async (t) => {
  const refused: [string, string, number, string?][] = [
    ['GET', 'studies/%2e%2e/system', 400],
    ['GET', '%2E%2E/patients', 400],
    ['GET', 'studies/1.2%2F3', 400],
    ['GET', 'studies/1.2%5c3', 400],
    ['GET', 'studies/../../system', 400],
    ['GET', './studies', 400],
    ['GET', 'studies//series', 400],
    ['GET', 'studies/', 404],
    ['GET', 'studies\\..\\system', 400],
    ['GET', 'studies;x=1', 400],
    ['GET', 'studies/1.2\u0000', 400],
    ['GET', 'studies/1.2 3', 400],
    ['GET', 'studies', 400, 'a=%00'],
    ['GET', 'studies', 400, 'a=\u0001'],
    ['GET', 'studies/abc', 404],
    ['GET', 'studies/1..2', 404],
    ['GET', 'studies/1.02', 404],
    ['GET', `studies/${'1.'.repeat(40)}1`, 404],
    ['GET', 'patients', 404],
    ['GET', '', 404],
    ['GET', 'system', 404],
    ['GET', `studies/${S}/series/${SE}/instances/${I}/frames/0`, 404],
    ['GET', `studies/${S}/series/${SE}/instances/${I}/frames/a`, 404],
    ['GET', `studies/${S}/series/${SE}/instances/${I}/bulk/zz`, 404],
    ['GET', `studies/${S}/metadata/x`, 404],
    ['GET', `studies/${S}/frames/1`, 404],
    ['POST', `studies/${S}/series`, 405],
    ['POST', 'series', 405],
    ['PUT', 'studies', 405],
    ['DELETE', `studies/${S}/metadata`, 405],
    ['PATCH', `studies/${S}`, 405],
  ];
  for (const [m, rest, status, q] of refused) t.match(classifyDicomweb(m, rest, q ?? ''), { ok: false, status }, `${m} ${rest} ${q ?? ''}`);
});

t.test('WADO-URI', async (t) => {
  const q = `requestType=WADO&studyUID=${S}&seriesUID=${SE}&objectUID=${I}&contentType=application/dicom`;
  t.match(classifyWadoUri('GET', '', q), { ok: true, action: 'retrieve', service: 'wado-uri', studyUid: S, seriesUID: undefined, instanceUid: I });
  t.match(classifyWadoUri('GET', '', q.replace('WADO', 'X')), { ok: false, status: 400 });
  t.match(classifyWadoUri('GET', '', `${q}&studyUID=1.2`), { ok: false, status: 400 }, 'duplicated parameters are refused');
  t.match(classifyWadoUri('GET', '', q.replace(S, 'abc')), { ok: false, status: 400 });
  t.match(classifyWadoUri('POST', '', q), { ok: false, status: 405 });
  t.match(classifyWadoUri('GET', 'x', q), { ok: false, status: 404 });
});

t.test('regression (fuzz wado-uri): the UIDs the guard authorises are the ones a PACS that does not percent-decode reads', async (t) => {
  // Orthanc reads WADO-URI values undecoded: studyUID=1%2E2 is "1%2E2" to it, "1.2" to URLSearchParams.
  const q = (study: string, extra = ''): string => `requestType=WADO&studyUID=${study}&seriesUID=${SE}&objectUID=${I}${extra}`;
  for (const study of ['1%2E2', '1.%32', '%31.2']) t.match(classifyWadoUri('GET', '', q(study)), { ok: false, status: 400 }, `studyUID=${study}`);
  t.match(classifyWadoUri('GET', '', q(S).replace('requestType=WADO', 'requestType=%57ADO')), { ok: false, status: 400 }, 'an encoded requestType');
  t.match(classifyWadoUri('GET', '', q(S, '&%73tudyUID=1.2')), { ok: false, status: 400 }, 'a second studyUID under an encoded name');
  t.match(classifyWadoUri('GET', '', q(S, '&contentType=application%2Fdicom')), { ok: true, studyUid: S }, 'other parameters may still be encoded (forwarded byte for byte)');
});

t.test('the requests OHIF 3.13 makes to open a study (as recorded by test/integration/browser-viewer.test.ts) are accepted as they are', async (t) => {
  const recorded: [string, string, string][] = [
    ['studies', 'limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060%2C00080090%2C00100030', 'search'],
    ['studies', `limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060%2C00080090%2C00100030&StudyInstanceUID=${S}`, 'search'],
    ['studies', '00100020=PGW-VIEWER&limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060%2C00080090%2C00100030', 'search'],
    [`studies/${S}/series`, 'includefield=00080021%2C00080031%2C0008103E%2C00200011', 'search'],
    [`studies/${S}/series/${SE}/metadata`, '', 'retrieve'],
    [`studies/${S}/series/${SE}/instances/${I}/frames/1`, '', 'retrieve'],
  ];
  for (const [rest, query, action] of recorded) t.match(classifyDicomweb('GET', rest, query), { ok: true, action }, `${rest}?${query}`);
});
