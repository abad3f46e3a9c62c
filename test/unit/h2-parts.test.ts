// Small parts of the HTTP/2 edge: the per-connection PACS slots and the PACS response head as HTTP/2 headers.

import t from 'tap';
import { pacsResponseHeaders } from '../../src/http/edge/h2/h2-answer.js';
import { PacsSlots } from '../../src/http/edge/h2/pacs-slots.js';
import { parseResponseHead } from '../../src/http/edge/response-head.js';

t.test('PacsSlots: at most N at once, the rest in order', async (t) => {
  const slots = new PacsSlots(2);
  const ran: number[] = [];
  for (let i = 0; i < 5; i++) slots.take(() => ran.push(i));
  t.same(ran, [0, 1]);
  slots.release();
  t.same(ran, [0, 1, 2]);
  slots.release();
  slots.release();
  t.same(ran, [0, 1, 2, 3, 4]);
  slots.release();
  slots.release();
  slots.take(() => ran.push(5));
  slots.take(() => ran.push(6));
  slots.take(() => ran.push(7));
  t.same(ran.slice(5), [5, 6], 'two free slots again, the third waits');
});

t.test('pacsResponseHeaders: no connection-specific fields, canonical length, security headers', async (t) => {
  const raw = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length: 2\r\nConnection: keep-alive, x-hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nSet-Cookie: a=b\r\nVary: accept\r\nVary: origin\r\n\r\n');
  const res = parseResponseHead(raw, raw.indexOf('\r\n\r\n'), 'GET');
  if (typeof res === 'string') { t.fail(res); return; }
  t.same(pacsResponseHeaders(res), {
    ':status': '200', 'content-type': 'application/dicom+json', vary: ['accept', 'origin'], 'content-length': '2',
    'strict-transport-security': 'max-age=31536000', 'x-content-type-options': 'nosniff',
  });
  const chunked = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
  const c = parseResponseHead(chunked, chunked.indexOf('\r\n\r\n'), 'GET');
  if (typeof c === 'string') { t.fail(c); return; }
  t.equal(pacsResponseHeaders(c)['transfer-encoding'], undefined, 'chunked becomes HTTP/2 DATA framing');
});
