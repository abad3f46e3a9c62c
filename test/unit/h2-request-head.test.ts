// The HTTP/2 header list → RequestHead conversion: the same strict parser as HTTP/1.1, plus HTTP/2's own rules.

import t from 'tap';
import { h2RequestHead } from '../../src/http/edge/h2/h2-request-head.js';

const LIMIT = 32 * 1024;
const get = (path: string, extra: string[] = []): string[] => [':method', 'GET', ':scheme', 'https', ':authority', 'pacs.example.org', ':path', path, ...extra];

t.test('a GET becomes the HTTP/1.1 head a client would have sent', async (t) => {
  const r = h2RequestHead(get('/dicom-web/studies?PatientID=1', ['accept', 'application/dicom+json', 'cookie', 'a=1', 'cookie', 'b=2']), true, LIMIT);
  if ('status' in r) { t.fail(r.reason); return; }
  t.equal(r.head.method, 'GET');
  t.equal(r.head.target, '/dicom-web/studies?PatientID=1');
  t.same(r.head.headers, [['host', 'pacs.example.org'], ['accept', 'application/dicom+json'], ['cookie', 'a=1'], ['cookie', 'b=2']]);
  t.same(r.head.body, { kind: 'none' });
  t.equal(r.hasBody, false);
});

t.test('a body: chunked towards the PACS, the declared length kept for the DATA check', async (t) => {
  const r = h2RequestHead([':method', 'POST', ':scheme', 'https', ':authority', 'h', ':path', '/dicom-web/studies', 'content-length', '100'], false, LIMIT);
  if ('status' in r) { t.fail(r.reason); return; }
  t.same(r.head.body, { kind: 'chunked' });
  t.equal(r.declaredLength, 100);
  const none = h2RequestHead([':method', 'POST', ':scheme', 'https', ':authority', 'h', ':path', '/x'], false, LIMIT);
  t.ok(!('status' in none) && none.declaredLength === undefined && none.head.body.kind === 'chunked');
  const ended = h2RequestHead([':method', 'POST', ':scheme', 'https', ':authority', 'h', ':path', '/x', 'content-length', '5'], true, LIMIT);
  t.match(ended, { status: 400 }, 'Content-Length with END_STREAM on the HEADERS');
});

t.test('refusals', async (t) => {
  const cases: Record<string, [string[], number]> = {
    'absolute-form': [get('http://evil/dicom-web/studies'), 400],
    asterisk: [[':method', 'OPTIONS', ':scheme', 'https', ':authority', 'h', ':path', '*'], 400],
    'missing :path': [[':method', 'GET', ':scheme', 'https', ':authority', 'h'], 400],
    'missing :method': [[':scheme', 'https', ':authority', 'h', ':path', '/'], 400],
    CONNECT: [[':method', 'CONNECT', ':authority', 'pacs:8042'], 400],
    'http scheme': [[':method', 'GET', ':scheme', 'http', ':authority', 'h', ':path', '/'], 400],
    'authority and host differ': [get('/', ['host', 'other']), 400],
    'authority with userinfo': [[':method', 'GET', ':scheme', 'https', ':authority', 'a@b', ':path', '/'], 400],
    'no authority nor host': [[':method', 'GET', ':scheme', 'https', ':path', '/'], 400],
    'repeated :path': [[...get('/'), ':path', '/x'], 400],
    'pseudo after regular': [[':method', 'GET', ':scheme', 'https', 'accept', '*/*', ':path', '/', ':authority', 'h'], 400],
    'unknown pseudo': [[...get('/'), ':protocol', 'websocket'].slice(0, 8).concat([':protocol', 'websocket']), 400],
    connection: [get('/', ['connection', 'close']), 400],
    'transfer-encoding': [get('/', ['transfer-encoding', 'chunked']), 400],
    upgrade: [get('/', ['upgrade', 'h2c']), 400],
    'te gzip': [get('/', ['te', 'gzip']), 400],
    'CR in a value': [get('/', ['x', 'a\r\nhost: evil']), 400],
    'NUL in a path': [get('/a\0b'), 400],
    'upper-case name': [get('/', ['Accept', '*/*']), 400],
    'repeated content-length': [[':method', 'POST', ':scheme', 'https', ':authority', 'h', ':path', '/', 'content-length', '1', 'content-length', '1'], 400],
    'lower-case method': [[':method', 'get', ':scheme', 'https', ':authority', 'h', ':path', '/'], 400],
    'header list too large': [get('/', ['x-big', 'a'.repeat(LIMIT)]), 431],
  };
  for (const [name, [raw, status]] of Object.entries(cases)) t.match(h2RequestHead(raw, true, LIMIT), { status }, name);
  const te = h2RequestHead(get('/', ['te', 'trailers']), true, LIMIT);
  t.notOk('status' in te, 'TE: trailers is allowed (and dropped)');
});
