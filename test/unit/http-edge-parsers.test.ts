// The HTTPS edge's parsers: the strict request-head parser, the body framers and the upstream
// response-head parser. Each refusal is checked with its status and a reason, so that a parser that
// refuses for the wrong reason (or accepts) fails here.

import t, { type Test } from 'tap';
import { ChunkedFramer, LengthFramer, type BodyFramer, type FeedResult } from '../../src/http/edge/body-framer.js';
import { headerValue, isRefusal, MAX_HEAD_BYTES, MAX_HEADERS, parseRequestHead, type HeadRefusal, type RequestHead } from '../../src/http/edge/request-head.js';
import { parseResponseHead, type ResponseHead } from '../../src/http/edge/response-head.js';
import { fieldName } from '../../src/http/edge/field-syntax.js';

/** Parses `head` (lines joined by CRLF, without the final empty line) as the edge does: up to the first CRLFCRLF. */
function parse(head: string): RequestHead | HeadRefusal {
  const buf = Buffer.from(`${head}\r\n\r\n`, 'latin1');
  return parseRequestHead(buf, buf.indexOf('\r\n\r\n'));
}

function ok(t: Test, head: string): RequestHead {
  const r = parse(head);
  if (isRefusal(r)) {
    t.fail(`refused: ${r.status} ${r.reason}`);
    throw new Error('refused');
  }
  return r;
}

function refused(t: Test, head: string, status: number, reason: RegExp, msg?: string): void {
  const r = parse(head);
  if (!isRefusal(r)) { t.fail(`accepted: ${msg ?? JSON.stringify(head)}`); return; }
  t.equal(r.status, status, `${msg ?? JSON.stringify(head)} → ${r.status} (${r.reason})`);
  t.match(r.reason, reason, msg ?? JSON.stringify(head));
}

const GET = 'GET /dicom-web/studies HTTP/1.1\r\nHost: gw.example';

t.test('parseRequestHead: a valid GET', async (t) => {
  const h = ok(t, 'GET /dicom-web/studies?PatientID=P%201&limit=5 HTTP/1.1\r\nHost: gw.example:8443\r\nAccept:   application/dicom+json  \r\nX-Empty:\r\nX-Custom: a b\tc\r\nX-Custom: second');
  t.equal(h.method, 'GET');
  t.equal(h.target, '/dicom-web/studies?PatientID=P%201&limit=5', 'target undecoded, query kept');
  t.equal(h.version, '1.1');
  t.same(h.headers, [
    ['host', 'gw.example:8443'], ['accept', 'application/dicom+json'], ['x-empty', ''], ['x-custom', 'a b\tc'], ['x-custom', 'second'],
  ], 'names lower-cased, values trimmed, in order, repeats kept');
  t.same(h.body, { kind: 'none' });
  t.equal(h.keepAlive, true);
  t.equal(h.expectContinue, false);
  t.equal(headerValue(h, 'x-custom'), 'a b\tc', 'headerValue gives the first');
  t.equal(headerValue(h, 'nope'), undefined);
  t.equal(isRefusal(h), false);
  // Methods are tokens, not a fixed list; the edge's guard decides which are allowed.
  t.equal(ok(t, 'M-SEARCH / HTTP/1.1\r\nHost: x').method, 'M-SEARCH');
  t.equal(ok(t, 'GET / HTTP/1.0').version, '1.0', 'HTTP/1.0 without Host is fine');
  t.equal(ok(t, 'GET /a?b=%00 HTTP/1.1\r\nHost: x').target, '/a?b=%00', 'percent-escapes are left to the guard');
  t.equal(ok(t, 'GET / HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9').headers[1]?.[1], 'caf\xe9', 'obs-text in a value is allowed');
});

t.test('parseRequestHead: bare LF anywhere is refused', async (t) => {
  refused(t, 'GET / HTTP/1.1\nHost: x', 400, /bare LF/, 'LF after the request line');
  refused(t, 'GET / HTTP/1.1\r\nHost: x\nTransfer-Encoding: chunked', 400, /bare LF/, 'LF between fields');
  refused(t, '\nGET / HTTP/1.1\r\nHost: x', 400, /bare LF/, 'leading LF');
  refused(t, 'GET / HTTP/1.1\r\nHost: x\r\nX: a\nb', 400, /bare LF/, 'LF inside a value');
});

t.test('parseRequestHead: obs-fold and malformed fields', async (t) => {
  refused(t, `${GET}\r\nX-A: a\r\n folded`, 400, /folding/, 'space-folded continuation');
  refused(t, `${GET}\r\nX-A: a\r\n\tfolded`, 400, /folding/, 'tab-folded continuation');
  refused(t, `${GET}\r\nTransfer-Encoding:\r\n chunked`, 400, /folding/, 'Transfer-Encoding folded onto the next line');
  refused(t, `GET / HTTP/1.1\r\n Host: x`, 400, /folding/, 'first field line folded');
  refused(t, `${GET}\r\nContent-Length : 5`, 400, /field name/, 'space before the colon');
  refused(t, `${GET}\r\nTransfer-Encoding\t: chunked`, 400, /field name/, 'tab before the colon');
  refused(t, `${GET}\r\nNoColon`, 400, /malformed header field/, 'no colon');
  refused(t, `${GET}\r\n: value`, 400, /malformed header field/, 'empty name');
  refused(t, `${GET}\r\nX(y): 1`, 400, /field name/, 'non-token name');
  refused(t, `${GET}\r\nX: a\0b`, 400, /invalid character/, 'NUL in a value');
  refused(t, `${GET}\r\nX: a\rb`, 400, /invalid character/, 'bare CR in a value');
  refused(t, `${GET}\r\nX: a\x7fb`, 400, /invalid character/, 'DEL in a value');
});

t.test('parseRequestHead: request line', async (t) => {
  refused(t, 'G(ET / HTTP/1.1\r\nHost: x', 400, /method/, 'separator in the method');
  refused(t, 'GÉT / HTTP/1.1\r\nHost: x', 400, /method/, 'non-ASCII method');
  refused(t, ' / HTTP/1.1\r\nHost: x', 400, /method/, 'empty method');
  refused(t, 'GET  / HTTP/1.1\r\nHost: x', 400, /request line/, 'two spaces');
  refused(t, 'GET / HTTP/1.1 \r\nHost: x', 400, /request line/, 'trailing space');
  refused(t, 'GET /\r\nHost: x', 400, /request line/, 'HTTP/0.9 style');
  refused(t, 'GET / http/1.1\r\nHost: x', 400, /request line/, 'lower-case protocol');
  refused(t, 'GET / HTTP/1.10\r\nHost: x', 400, /request line/, 'three-digit version');
  refused(t, 'GET http://pacs:8042/dicom-web/studies HTTP/1.1\r\nHost: x', 400, /origin-form/, 'absolute-form');
  refused(t, 'CONNECT pacs:8042 HTTP/1.1\r\nHost: x', 400, /origin-form/, 'authority-form');
  refused(t, 'OPTIONS * HTTP/1.1\r\nHost: x', 400, /origin-form/, 'asterisk-form');
  refused(t, 'GET dicom-web/studies HTTP/1.1\r\nHost: x', 400, /origin-form/, 'relative path');
  refused(t, 'GET /a\x01b HTTP/1.1\r\nHost: x', 400, /origin-form/, 'control character in the target');
  refused(t, 'GET /a\xe9 HTTP/1.1\r\nHost: x', 400, /origin-form/, 'non-ASCII target');
  refused(t, 'GET / HTTP/2.0\r\nHost: x', 505, /not supported/, 'HTTP/2.0');
  refused(t, 'GET / HTTP/1.2\r\nHost: x', 505, /not supported/, 'HTTP/1.2');
  refused(t, 'GET / HTTP/0.9\r\nHost: x', 505, /not supported/, 'HTTP/0.9 with a version');
  const long = `/dicom-web/studies?${'a'.repeat(8 * 1024 - 19)}`;
  t.equal(long.length, 8 * 1024);
  t.equal(ok(t, `GET ${long} HTTP/1.1\r\nHost: x`).target, long, 'an 8 KiB target is accepted');
  refused(t, `GET ${long}a HTTP/1.1\r\nHost: x`, 414, /too long/, 'an 8 KiB + 1 target');
});

t.test('parseRequestHead: Host', async (t) => {
  refused(t, 'GET / HTTP/1.1', 400, /missing Host/, 'no Host on HTTP/1.1');
  refused(t, 'GET / HTTP/1.1\r\nX-Host: x', 400, /missing Host/, 'only a look-alike');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nHost: a', 400, /repeated Host/, 'two identical Hosts');
  refused(t, 'GET / HTTP/1.1\r\nHost: a\r\nhOsT: b', 400, /repeated Host/, 'two Hosts, any case');
  refused(t, 'GET / HTTP/1.0\r\nHost: a\r\nHost: b', 400, /repeated Host/, 'two Hosts on HTTP/1.0 too');
});

t.test('parseRequestHead: Content-Length and Transfer-Encoding', async (t) => {
  refused(t, `${GET}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked`, 400, /both/, 'CL then TE');
  refused(t, `${GET}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5`, 400, /both/, 'TE then CL');
  refused(t, `${GET}\r\nTransfer-Encoding: chunked\r\nContent-Length: 0`, 400, /both/, 'TE with CL 0');
  refused(t, `${GET}\r\nTransfer-Encoding: gzip`, 501, /gzip/, 'TE gzip');
  refused(t, `${GET}\r\nTransfer-Encoding: gzip, chunked`, 501, /not supported/, 'TE gzip, chunked');
  refused(t, `${GET}\r\nTransfer-Encoding: chunked, chunked`, 501, /not supported/, 'TE chunked twice in one field');
  refused(t, `${GET}\r\nTransfer-Encoding: identity`, 501, /not supported/, 'TE identity');
  refused(t, `${GET}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked`, 400, /repeated Transfer-Encoding/, 'two TE fields');
  refused(t, 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked', 400, /HTTP\/1\.0/, 'TE on HTTP/1.0');
  refused(t, `${GET}\r\nContent-Length: 5\r\nContent-Length: 6`, 400, /conflicting Content-Length/, 'two different CLs');
  refused(t, `${GET}\r\nContent-Length: 0\r\nContent-Length: 10`, 400, /conflicting Content-Length/, 'CL 0 then CL 10');
  for (const v of ['abc', '-1', '+5', '5, 5', '5,6', '0x10', '1e3', '5.0', '', ' ', '1 2', '1234567890123456']) {
    refused(t, `${GET}\r\nContent-Length: ${v}`, 400, /invalid Content-Length/, `CL ${JSON.stringify(v)}`);
  }
  // Regression (HTTP differential, case "CL twice same"): forwarded as received, two identical Content-Length fields
  // were refused by llhttp and nginx and framed differently by Orthanc; RFC 9110 §8.6 lets a recipient reject them.
  refused(t, `${GET}\r\nContent-Length: 7\r\ncontent-length: 7`, 400, /repeated Content-Length/, 'identical repeated CLs');
  t.same(ok(t, `${GET}\r\nContent-Length:  012 `).body, { kind: 'length', length: 12 }, 'leading zeros, surrounding spaces');
  t.same(ok(t, `${GET}\r\nContent-Length: 0`).body, { kind: 'none' }, 'CL 0: no body');
  t.same(ok(t, `${GET}\r\nContent-Length: 999999999999999`).body, { kind: 'length', length: 999999999999999 }, '15 digits');
  t.same(ok(t, GET).body, { kind: 'none' }, 'neither: no body');
  t.same(ok(t, `${GET}\r\nTransfer-Encoding: chunked`).body, { kind: 'chunked' });
  t.same(ok(t, `${GET}\r\nTRANSFER-ENCODING: Chunked`).body, { kind: 'chunked' }, 'case-insensitive name and coding');
  t.same(ok(t, 'POST / HTTP/1.0\r\nContent-Length: 3').body, { kind: 'length', length: 3 }, 'CL on HTTP/1.0');
});

t.test('parseRequestHead: limits', async (t) => {
  t.equal(MAX_HEADERS, 100);
  t.equal(MAX_HEAD_BYTES, 16 * 1024);
  const fields = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? 'Host: x' : `X-${i}: ${i}`)).join('\r\n');
  t.equal(ok(t, `GET / HTTP/1.1\r\n${fields(100)}`).headers.length, 100, '100 fields are accepted');
  refused(t, `GET / HTTP/1.1\r\n${fields(101)}`, 431, /too many/, '101 fields');
  refused(t, `GET / HTTP/1.1\r\n${fields(500)}`, 431, /too many/, '500 fields');
});

t.test('parseRequestHead: Expect', async (t) => {
  const e = ok(t, 'POST /dicom-web/studies HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue');
  t.equal(e.expectContinue, true);
  t.equal(ok(t, 'POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue').expectContinue, true, 'case-insensitive');
  t.equal(ok(t, 'POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1').expectContinue, false, 'ignored on HTTP/1.0');
  refused(t, 'POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok', 400, /Expect/, 'another expectation');
  refused(t, 'POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, foo', 400, /Expect/, 'a list');
  refused(t, 'POST / HTTP/1.1\r\nHost: x\r\nExpect:', 400, /Expect/, 'empty');
});

t.test('parseRequestHead: keep-alive', async (t) => {
  t.equal(ok(t, GET).keepAlive, true, 'HTTP/1.1 by default');
  t.equal(ok(t, `${GET}\r\nConnection: keep-alive`).keepAlive, true);
  t.equal(ok(t, `${GET}\r\nConnection: close`).keepAlive, false, 'Connection: close');
  t.equal(ok(t, `${GET}\r\nConnection: Upgrade, CLOSE`).keepAlive, false, 'close in a list, any case');
  t.equal(ok(t, `${GET}\r\nConnection: keep-alive\r\nConnection: close`).keepAlive, false, 'close in a second field');
  t.equal(ok(t, `${GET}\r\nConnection: closed`).keepAlive, true, '"closed" is not "close"');
  t.equal(ok(t, 'GET / HTTP/1.0').keepAlive, false, 'HTTP/1.0 by default');
  t.equal(ok(t, 'GET / HTTP/1.0\r\nConnection: close').keepAlive, false);
});

// ---------------------------------------------------------------------------------------------

/** Feeds `pieces` in turn; returns every result. */
function feedAll(f: BodyFramer, pieces: (string | Buffer)[]): FeedResult[] {
  return pieces.map((p) => f.feed(typeof p === 'string' ? Buffer.from(p, 'latin1') : p));
}

const CHUNKED = '5\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n';

t.test('ChunkedFramer: a whole body, with and without what follows', async (t) => {
  t.same(new ChunkedFramer().feed(Buffer.from(CHUNKED)), { used: CHUNKED.length, done: true }, 'exactly the body');
  const next = 'GET /next HTTP/1.1\r\nHost: x\r\n\r\n';
  const r = new ChunkedFramer().feed(Buffer.from(CHUNKED + next));
  t.same(r, { used: CHUNKED.length, done: true }, 'the next request is not part of the body');
  t.same(new ChunkedFramer().feed(Buffer.from('0\r\n\r\n')), { used: 5, done: true }, 'an empty body');
  // A chunk whose data looks like a last chunk: only the sizes count.
  const tricky = '5\r\n0\r\n\r\n\r\n0\r\n\r\n';
  t.same(new ChunkedFramer().feed(Buffer.from(`${tricky}X`)), { used: tricky.length, done: true }, 'data that looks like a last chunk is data');
  t.same(new ChunkedFramer().feed(Buffer.from('a\r\n0123456789\r\nA\r\n0123456789\r\nfF\r\n')), { used: 34, done: false }, 'hex in both cases; not done');
});

t.test('ChunkedFramer: byte by byte and at every split point', async (t) => {
  const body = '5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n';
  const f = new ChunkedFramer();
  const results = feedAll(f, [...body].map((c) => Buffer.from(c, 'latin1')));
  for (let i = 0; i < results.length - 1; i++) {
    if (results[i]?.used !== 1 || results[i]?.done !== false || results[i]?.error !== undefined) { t.fail(`byte ${i}: ${JSON.stringify(results[i])}`); break; }
  }
  t.same(results.at(-1), { used: 1, done: true }, 'done exactly at the last byte');
  const bytes = Buffer.from(`${body}GET`, 'latin1');
  let allGood = true;
  for (let k = 0; k <= bytes.length - 3; k++) {
    const g = new ChunkedFramer();
    const a = g.feed(bytes.subarray(0, k));
    const b = a.done ? { used: 0, done: true } : g.feed(bytes.subarray(k));
    if (a.error !== undefined || b.error !== undefined || a.used + b.used !== body.length || !b.done) {
      allGood = false;
      t.fail(`split at ${k}: ${JSON.stringify(a)} ${JSON.stringify(b)}`);
    }
  }
  t.ok(allGood, 'every two-piece split ends the body at the same byte');
  // Large chunk data split over several feeds, counted without looking at it.
  const data = Buffer.alloc(70_000, 0x0d);
  const g = new ChunkedFramer();
  const rs = feedAll(g, [Buffer.from('11170\r\n'), data.subarray(0, 30_000), data.subarray(30_000), Buffer.from('\r\n0\r\n\r\nrest')]);
  t.same(rs.map((r) => [r.used, r.done]), [[7, false], [30_000, false], [40_000, false], [7, true]], 'CR bytes inside data are data');
});

t.test('ChunkedFramer: extensions and trailers', async (t) => {
  const withExt = '5;name=value;flag\r\nhello\r\n0;last="x y"\r\n\r\n';
  t.same(new ChunkedFramer().feed(Buffer.from(withExt)), { used: withExt.length, done: true });
  const withTrailers = '5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\nNEXT';
  t.same(new ChunkedFramer().feed(Buffer.from(withTrailers)), { used: withTrailers.length - 4, done: true }, 'trailers are part of the body; the next bytes are not');
  const r = new ChunkedFramer().feed(Buffer.from(`5;${'e'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`));
  t.equal(r.done, true);
  t.match(r.error, /extension/, 'an over-long extension is refused');
  const r2 = new ChunkedFramer().feed(Buffer.from(`0\r\nX: ${'t'.repeat(5000)}\r\n\r\n`));
  t.match(r2.error, /trailer/, 'an over-long trailer line is refused');
});

t.test('ChunkedFramer: malformed framing is refused', async (t) => {
  const bad: [string, RegExp, string][] = [
    ['g\r\n', /chunk size/, 'non-hex size'],
    ['\r\n', /chunk size/, 'empty size'],
    [' 5\r\nhello\r\n0\r\n\r\n', /chunk size/, 'space before the size'],
    ['5 \r\nhello\r\n0\r\n\r\n', /chunk size/, 'space after the size'],
    ['-5\r\n', /chunk size/, 'negative size'],
    ['0x5\r\nhello\r\n', /chunk size/, '0x prefix'],
    ['+5\r\n', /chunk size/, 'plus sign'],
    ['5\nhello\r\n0\r\n\r\n', /chunk size/, 'size line ended by a bare LF'],
    ['5\rhello\r\n', /CRLF/, 'size line ended by a bare CR'],
    ['5;x\nhello\r\n', /extension/, 'extension ended by a bare LF'],
    ['5;a\0b\r\nhello\r\n', /extension/, 'control character in an extension'],
    ['5\r\nhelloX\r\n0\r\n\r\n', /not followed by CRLF/, 'data longer than the size'],
    ['5\r\nhell\r\n0\r\n\r\n', /not followed by CRLF/, 'data shorter than the size'],
    ['5\r\nhello\n0\r\n\r\n', /not followed by CRLF/, 'data followed by a bare LF'],
    ['5\r\nhello\rX0\r\n\r\n', /not followed by CRLF/, 'data followed by CR and junk'],
    ['0\r\n\rX', /not ended by CRLF/, 'last CRLF broken'],
    ['0\r\nX: 1\n\r\n', /trailer/, 'trailer ended by a bare LF'],
    ['0\r\nX: 1\rY\r\n\r\n', /trailer/, 'bare CR in a trailer'],
    ['0\r\n\n', /trailer/, 'bare LF for the final CRLF'],
    [`1${'0'.repeat(13)}\r\n`, /too large/, '14 hex digits'],
    [`${'0'.repeat(14)}\r\n\r\n`, /too large/, '14 hex digits, even zeros'],
    [`${'f'.repeat(20)}\r\n`, /too large/, '20 hex digits'],
  ];
  for (const [body, reason, what] of bad) {
    const r = new ChunkedFramer().feed(Buffer.from(body, 'latin1'));
    t.equal(r.done, true, `${what}: done`);
    t.match(r.error, reason, `${what}: ${String(r.error)}`);
    // Byte by byte, the same refusal.
    const f = new ChunkedFramer();
    let last: FeedResult = { used: 0, done: false };
    for (const c of Buffer.from(body, 'latin1')) { last = f.feed(Buffer.from([c])); if (last.done) break; }
    t.match(last.error, reason, `${what}, byte by byte`);
  }
  t.same(new ChunkedFramer().feed(Buffer.from(`${'0'.repeat(12)}5\r\nhello\r\n0\r\n\r\n`)), { used: 27, done: true }, '13 hex digits are accepted');
  t.notOk(new ChunkedFramer().feed(Buffer.from('5\r\nhel')).done, 'an incomplete body is not done');
});

t.test('LengthFramer', async (t) => {
  const f = new LengthFramer(10);
  t.same(f.feed(Buffer.from('abcd')), { used: 4, done: false });
  t.same(f.feed(Buffer.alloc(0)), { used: 0, done: false }, 'an empty chunk');
  t.same(f.feed(Buffer.from('efghijGET / HTTP/1.1')), { used: 6, done: true }, 'stops at the length; the rest is the next message');
  t.same(new LengthFramer(3).feed(Buffer.from('abc')), { used: 3, done: true }, 'exactly the length');
  const g = new LengthFramer(5);
  const rs = feedAll(g, ['a', 'b', 'c', 'd', 'e']);
  t.same(rs.map((r) => r.done), [false, false, false, false, true], 'byte by byte');
  t.ok(rs.every((r) => r.used === 1 && r.error === undefined));
});

// ---------------------------------------------------------------------------------------------

function resp(head: string, method = 'GET'): ResponseHead | string {
  const buf = Buffer.from(`${head}\r\n\r\n`, 'latin1');
  return parseResponseHead(buf, buf.indexOf('\r\n\r\n'), method);
}

function respOk(t: Test, head: string, method = 'GET'): ResponseHead {
  const r = resp(head, method);
  if (typeof r === 'string') { t.fail(`refused: ${r}`); throw new Error(r); }
  return r;
}

t.test('fieldName: tchar names only (RFC 9110 §5.6.2), in lower case', async (t) => {
  const tchars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (let c = 0; c < 256; c++) {
    const ch = String.fromCharCode(c);
    const line = `x${ch}y: v`;
    t.equal(fieldName(line, 3), tchars.includes(ch) ? `x${ch.toLowerCase()}y` : undefined, `character ${String(c)}`);
  }
  const lower = 'content-type: a';
  t.equal(fieldName(lower, 12), 'content-type');
  t.equal(fieldName('Content-Type: a', 12), 'content-type');
  t.equal(fieldName(': a', 0), undefined, 'empty name');
  t.equal(fieldName('\u0100bc: a', 3), undefined, 'a character beyond latin1');
});

t.test('parseResponseHead: status line and fields', async (t) => {
  const r = respOk(t, 'HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length:  12 \r\nX-Multi: a, b');
  t.equal(r.status, 200);
  t.equal(r.reason, 'OK');
  t.same(r.headers, [['content-type', 'application/dicom+json'], ['content-length', '12'], ['x-multi', 'a, b']]);
  t.same(r.body, { kind: 'length', length: 12 });
  t.equal(r.keepAlive, true);
  t.equal(respOk(t, 'HTTP/1.1 404 Not Found Here\r\nContent-Length: 0').reason, 'Not Found Here');
  t.equal(respOk(t, 'HTTP/1.1 200\r\nContent-Length: 0').reason, '', 'no reason phrase');
  for (const bad of ['HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 099 X', 'HTTP/2 200 OK', 'HTTP/1.2 200 OK', 'http/1.1 200 OK', 'ICY 200 OK', 'HTTP/1.1  200 OK']) {
    t.equal(resp(`${bad}\r\nContent-Length: 0`), 'malformed status line', bad);
  }
  t.equal(resp('HTTP/1.1 200 OK\r\nNoColon'), 'malformed header field');
  t.equal(resp('HTTP/1.1 200 OK\r\nBad Name: 1'), 'malformed header field');
  t.equal(resp('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6'), 'conflicting Content-Length fields');
  t.equal(resp('HTTP/1.1 200 OK\r\nContent-Length: -1'), 'invalid Content-Length');
  t.equal(resp('HTTP/1.1 200 OK\r\nContent-Length: 5, 5'), 'invalid Content-Length');
  t.same(respOk(t, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5').body, { kind: 'length', length: 5 }, 'identical CLs');
});

t.test('parseResponseHead: body framing (RFC 9112 §6.3)', async (t) => {
  const cl = 'Content-Length: 100';
  t.same(respOk(t, `HTTP/1.1 200 OK\r\n${cl}`, 'HEAD').body, { kind: 'none' }, 'HEAD: no body whatever the CL');
  t.equal(respOk(t, `HTTP/1.1 200 OK\r\n${cl}`, 'HEAD').keepAlive, true);
  t.same(respOk(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked', 'HEAD').body, { kind: 'none' }, 'HEAD: no body even if chunked');
  t.same(respOk(t, 'HTTP/1.1 200 OK', 'HEAD').body, { kind: 'none' }, 'HEAD: no body without CL');
  t.equal(respOk(t, 'HTTP/1.1 200 OK', 'HEAD').keepAlive, true, 'HEAD without CL keeps the connection');
  t.same(respOk(t, `HTTP/1.1 204 No Content\r\n${cl}`).body, { kind: 'none' }, '204');
  t.same(respOk(t, `HTTP/1.1 304 Not Modified\r\n${cl}`).body, { kind: 'none' }, '304');
  t.same(respOk(t, 'HTTP/1.1 100 Continue').body, { kind: 'none' }, '100');
  t.same(respOk(t, 'HTTP/1.1 103 Early Hints\r\nLink: </a>').body, { kind: 'none' }, '103');
  t.equal(respOk(t, 'HTTP/1.1 100 Continue').keepAlive, true);
  t.same(respOk(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked').body, { kind: 'chunked' }, 'chunked');
  t.same(respOk(t, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked').framing, { kind: 'chunked' }, 'chunked in any case, canonical');
  // As nginx 1.23+: only a lone "chunked"; never together with Content-Length (the edge answers 502).
  for (const te of ['gzip, Chunked', 'chunked, gzip', 'chunked, identity', 'xchunked', 'chunked garbage', 'chunked,', ' ', 'identity']) {
    t.match(resp(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${te}`), /^unsupported transfer coding/, `TE ${JSON.stringify(te)}: refused`);
  }
  t.equal(resp('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked'), 'repeated Transfer-Encoding');
  t.equal(resp(`HTTP/1.1 200 OK\r\n${cl}\r\nTransfer-Encoding: chunked`), 'both Content-Length and Transfer-Encoding');
  t.equal(resp('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5'), 'both Content-Length and Transfer-Encoding', 'any order');
  t.equal(resp('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked'), 'Transfer-Encoding in an HTTP/1.0 response');
  t.same(respOk(t, `HTTP/1.1 200 OK\r\n${cl}\r\ncontent-length: 0100`).framing, { kind: 'length', length: 100 }, 'identical CLs: one canonical length');
  t.same(respOk(t, `HTTP/1.1 200 OK\r\n${cl}`, 'HEAD').framing, { kind: 'length', length: 100 }, 'HEAD: the framing a GET would get is kept');
  t.same(respOk(t, `HTTP/1.1 200 OK\r\n${cl}`).body, { kind: 'length', length: 100 }, 'CL');
  t.same(respOk(t, 'HTTP/1.1 200 OK\r\nContent-Length: 0').body, { kind: 'none' }, 'CL 0');
  t.equal(respOk(t, 'HTTP/1.1 200 OK\r\nContent-Length: 0').keepAlive, true);
  const closeDelimited = respOk(t, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain');
  t.same(closeDelimited.body, { kind: 'close' }, 'neither CL nor TE: until the upstream closes');
  t.equal(closeDelimited.keepAlive, false, 'a close-delimited body never leaves a reusable connection');
  t.same(respOk(t, 'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain').body, { kind: 'close' }, 'error statuses too');
  t.equal(resp(`HTTP/1.1 204 No Content\r\n${cl}\r\nContent-Length: 7`), 'conflicting Content-Length fields', 'conflicting CLs are refused even where there is no body');
});

t.test('parseResponseHead: keep-alive', async (t) => {
  t.equal(respOk(t, 'HTTP/1.1 200 OK\r\nContent-Length: 1').keepAlive, true);
  t.equal(respOk(t, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close').keepAlive, false);
  t.equal(respOk(t, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: X-Foo, Close').keepAlive, false);
  t.equal(respOk(t, 'HTTP/1.0 200 OK\r\nContent-Length: 1').keepAlive, false, 'HTTP/1.0 closes by default');
  t.equal(respOk(t, 'HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive').keepAlive, true, 'HTTP/1.0 keep-alive');
  t.equal(respOk(t, 'HTTP/1.0 200 OK\r\nConnection: keep-alive').keepAlive, false, 'unless close-delimited');
});

t.test('review fixes: strict chunked requests, case-sensitive methods, only SP/HTAB trimmed, TE drops CL', async (t) => {
  const strict = (s: string): FeedResult => new ChunkedFramer({ strict: true }).feed(Buffer.from(s));
  t.same(strict('1\r\nA\r\n0\r\n\r\n'), { used: 11, done: true }, 'a plain chunked body passes the strict framer');
  t.match(strict('1;a=b\r\nA\r\n0\r\n\r\n').error, /extensions are not accepted/, 'strict: no chunk extensions');
  t.match(strict('1\r\nA\r\n0\r\nX: y\r\n\r\n').error, /trailers are not accepted/, 'strict: no trailers');
  t.same(new ChunkedFramer().feed(Buffer.from('1;a=b\r\nA\r\n0\r\nX: y\r\n\r\n')).done, true, 'the lenient framer (PACS answers) still takes both');
  const head = (s: string) => { const b = Buffer.from(s, 'latin1'); return parseRequestHead(b, b.indexOf('\r\n\r\n')); };
  t.match(head('get /dicom-web/studies HTTP/1.1\r\nHost: x\r\n\r\n'), { status: 400 }, 'a lower-case method is refused');
  t.match(head('M-SEARCH /x HTTP/1.1\r\nHost: x\r\n\r\n'), { method: 'M-SEARCH' }, 'an upper-case extension method is taken');
  t.match(head('POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\x0b\r\n\r\n'), { status: 400 }, 'a vertical tab after Content-Length is not whitespace');
  t.match(head('GET /x HTTP/1.1\r\nHost: x\r\nX-A: \xa0v\xa0\r\n\r\n'), { headers: [['host', 'x'], ['x-a', '\xa0v\xa0']] }, 'NBSP is kept as part of a value');
  const res = (s: string) => { const b = Buffer.from(s, 'latin1'); return parseResponseHead(b, b.indexOf('\r\n\r\n'), 'GET'); };
  t.match(res('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 10\r\n\r\n'), /^unsupported transfer coding/, 'TE without chunked: refused (502), not relayed');
});
