// HTTP request and response heads: refusal or a value; accepted heads are unambiguous and re-serialise to themselves.

import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { isRefusal, parseRequestHead, type RequestHead } from '../../../src/http/edge/request-head.js';
import { parseResponseHead } from '../../../src/http/edge/response-head.js';
import { must, type FuzzTarget } from '../engine/target.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Tokens of HTTP/1.1 framing: the fields and values request smuggling is made of. */
export const HTTP_DICTIONARY: readonly string[] = [
  '\r\n', '\r\n\r\n', '\n', '\r', ' ', '\t', ':', ',', ';', '\0', '\x0b', '\x85', '\xa0', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0',
  'Content-Length: ', 'Transfer-Encoding: ', 'chunked', 'Chunked', ' chunked', 'identity', 'gzip, chunked', 'chunked, identity',
  'Host: ', 'Connection: ', 'close', 'keep-alive', 'Expect: 100-continue', 'Content-Length: 0', 'Content-Length: 5',
  'Transfer-Encoding: chunked', 'GET ', 'POST ', 'HEAD ', '/dicom-web/studies', '/wado?requestType=WADO', '0\r\n\r\n',
  '+5', '-1', '0x5', '05', '18446744073709551616', '999999999999999', 'Transfer_Encoding', 'Content-Length : 5',
];

function locate(input: Buffer): { buf: Buffer; end: number } {
  const at = input.indexOf(CRLFCRLF);
  if (at >= 0) return { buf: input, end: at };
  const buf = Buffer.concat([input, CRLFCRLF]);
  return { buf, end: input.length };
}

function serialise(h: RequestHead): Buffer {
  let s = `${h.method} ${h.target} HTTP/${h.version}\r\n`;
  for (const [k, v] of h.headers) s += `${k}: ${v}\r\n`;
  return Buffer.from(`${s}\r\n`, 'latin1');
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

export const requestHeadTarget: FuzzTarget = {
  name: 'request-head',
  about: 'src/http/edge/request-head.ts: a refusal or a head; accepted heads have token names, values without CR/LF/NUL, one Host, framing that follows from the fields alone, and re-serialise to the same parse',
  files: ['src/http/edge/request-head', 'src/http/edge/field-syntax'],
  maxLength: 4096,
  dictionary: HTTP_DICTIONARY,
  seeds: () => [
    'GET /dicom-web/studies?limit=10 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer a.b.c\r\n\r\n',
    'POST /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/related; type="application/dicom"; boundary=x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n',
    'POST /auth/login HTTP/1.1\r\nHost: gw\r\nContent-Length: 42\r\nConnection: close\r\n\r\n',
    'GET /healthz HTTP/1.0\r\n\r\n',
  ].map((s) => Buffer.from(s, 'latin1')),
  generate: fc.record({
    method: fc.constantFrom('GET', 'POST', 'HEAD', 'DELETE', 'get', 'M-SEARCH'),
    target: fc.constantFrom('/dicom-web/studies', '/wado?requestType=WADO', '/', '*', 'http://x/'),
    version: fc.constantFrom('1.1', '1.0', '2.0'),
    fields: fc.array(fc.tuple(fc.constantFrom('Host', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Expect', 'X-A'), fc.constantFrom(': ', ':', ' : ', ':\t'), fc.constantFrom('0', '5', '5, 5', 'chunked', 'Chunked', 'identity', 'close', 'content-length', '100-continue', 'x\0')), { maxLength: 6 }),
  }).map((r) => Buffer.from(`${r.method} ${r.target} HTTP/${r.version}\r\n${r.fields.map(([k, sep, v]) => `${k}${sep}${v}\r\n`).join('')}\r\n`, 'latin1')),
  run(input) {
    const { buf, end } = locate(input);
    const h = parseRequestHead(buf, end);
    if (isRefusal(h)) {
      must([400, 414, 431, 501, 505].includes(h.status), `refusal with status ${h.status}`);
      return;
    }
    must(/^[A-Z]+(-[A-Z]+)*$/.test(h.method), `accepted method ${JSON.stringify(h.method)}`);
    must(/^\/[\x21-\x7e]*$/.test(h.target) && !h.target.includes('#'), `accepted target ${JSON.stringify(h.target)}`);
    const lines = buf.toString('latin1', 0, end).split('\r\n');
    must(lines.length - 1 === h.headers.length, 'a header line was dropped or added');
    let hosts = 0;
    const cl = new Set<string>();
    const te: string[] = [];
    for (const [k, v] of h.headers) {
      must(TOKEN.test(k), `accepted field name ${JSON.stringify(k)}`);
      must(!/[\r\n\0]/.test(v) && !/^[ \t]|[ \t]$/.test(v), `accepted field value ${JSON.stringify(v)}`);
      if (k === 'host') hosts++;
      if (k === 'content-length') cl.add(v);
      if (k === 'transfer-encoding') te.push(v);
    }
    must(hosts <= 1 && (h.version === '1.0' || hosts === 1), `${hosts} Host fields accepted`);
    must(cl.size <= 1 && [...cl].every((v) => /^[0-9]+$/.test(v)), `Content-Length values ${[...cl].join('|')} accepted`);
    must(!(cl.size > 0 && te.length > 0), 'Content-Length with Transfer-Encoding accepted');
    if (te.length > 0) must(te.length === 1 && te[0]?.toLowerCase() === 'chunked' && h.body.kind === 'chunked', `Transfer-Encoding ${te.join('|')} framed as ${h.body.kind}`);
    else if (cl.size === 1 && Number([...cl][0]) > 0) must(h.body.kind === 'length' && h.body.length === Number([...cl][0]), `Content-Length framed as ${h.body.kind}`);
    else must(h.body.kind === 'none', `no framing fields but body ${h.body.kind}`);
    for (const c of h.connection) must(!['content-length', 'transfer-encoding', 'host'].includes(c), `Connection: ${c} accepted`);
    const again = serialise(h);
    const h2 = parseRequestHead(again, again.length - 4);
    must(!isRefusal(h2) && isDeepStrictEqual(h2, h), 'the accepted head, re-serialised, parses differently');
  },
};

export const responseHeadTarget: FuzzTarget = {
  name: 'response-head',
  about: 'src/http/edge/response-head.ts: a PACS response head for GET and HEAD; never throws; body framing per RFC 9112 §6.3 (HEAD/1xx/204/304 none, Transfer-Encoding over Content-Length, conflicting lengths refused); close-delimited bodies end the connection',
  files: ['src/http/edge/response-head', 'src/http/edge/field-syntax'],
  maxLength: 4096,
  dictionary: HTTP_DICTIONARY,
  seeds: () => [
    'HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n',
    'HTTP/1.1 204 No Content\r\n\r\n', 'HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
  ].map((s) => Buffer.from(s, 'latin1')),
  run(input) {
    const { buf, end } = locate(input);
    for (const method of ['GET', 'HEAD']) {
      const r = parseResponseHead(buf, end, method);
      if (typeof r === 'string') continue;
      must(r.status >= 100 && r.status <= 999, `status ${r.status}`);
      const cls = new Set(r.headers.filter(([k]) => k === 'content-length').map(([, v]) => v));
      const te = r.headers.filter(([k]) => k === 'transfer-encoding').map(([, v]) => v);
      must(cls.size <= 1, 'conflicting Content-Length accepted');
      must((r.framing.kind === 'chunked') === (te.length > 0), 'the canonical framing disagrees with the Transfer-Encoding fields');
      const noBody = method === 'HEAD' || r.status < 200 || r.status === 204 || r.status === 304;
      if (noBody) must(r.body.kind === 'none', `a ${method} ${r.status} answer framed as ${r.body.kind}`);
      else if (te.length > 0) {
        const last = te.join(',').toLowerCase().split(',').map((s) => s.trim()).pop();
        must(r.body.kind === (last === 'chunked' ? 'chunked' : 'close'), `Transfer-Encoding ${te.join('|')} framed as ${r.body.kind}`);
      } else if (cls.size === 1) {
        const n = Number([...cls][0]);
        must(n === 0 ? r.body.kind === 'none' : r.body.kind === 'length' && r.body.length === n, `Content-Length framed as ${r.body.kind}`);
      } else must(r.body.kind === 'close', `no framing fields but ${r.body.kind}`);
      if (r.body.kind === 'close') must(!r.keepAlive, 'a close-delimited body on a kept-alive connection');
    }
  },
};
