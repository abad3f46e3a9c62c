// Properties of what the HTTPS edge forwards, over generated heads (fast-check, seeded): whatever
// field names and framing a client or the PACS sends, the head the edge writes carries only
// allow-listed names (never one with "_"), exactly one canonical framing field that agrees with how
// the edge itself framed the body, and reads back the same through the edge's own strict parsers.

import fc from 'fast-check';
import t from 'tap';
import { dicomwebMounts, mountOf } from '../../src/http/dicomweb-guard.js';
import { FORWARDED_REQUEST_FIELDS, pacsRequestHead, pacsResponseHead } from '../../src/http/edge/pacs-headers.js';
import { isRefusal, parseRequestHead, type RequestHead } from '../../src/http/edge/request-head.js';
import { parseResponseHead } from '../../src/http/edge/response-head.js';

const RUNS = 3000;
const SEED = 0x12d;

/** Names a client could use to reach framing, forwarding or credentials, and plain ones. */
const KNOWN = [
  ...FORWARDED_REQUEST_FIELDS, 'content-length', 'transfer-encoding', 'host', 'connection', 'x-forwarded-for', 'x-forwarded-host',
  'x-forwarded-proto', 'x-real-ip', 'forwarded', 'authorization', 'cookie', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'expect',
  'keep-alive', 'proxy-connection', 'x-custom',
];
const TCHAR = [..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"];

/** A field name: a known one with random case and "-" ↔ "_" swaps, or a random token. */
const fieldName = fc.oneof(
  fc.tuple(fc.constantFrom(...KNOWN), fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }), fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }))
    .map(([n, upper, swap]) => [...n].map((c, i) => {
      const s = c === '-' && swap[i % 32] === true ? '_' : c;
      return upper[i % 32] === true ? s.toUpperCase() : s;
    }).join('')),
  fc.array(fc.constantFrom(...TCHAR), { minLength: 1, maxLength: 20 }).map((a) => a.join('')),
);
const fieldValue = fc.oneof(
  fc.constantFrom('0', '00', '5', '05', 'chunked', 'Chunked', 'chunked, identity', 'xchunked', 'close', 'keep-alive', '6.6.6.6', 'a_b'),
  fc.string({ unit: fc.constantFrom(...'abc xyz0123456789,;=_-/'.split('')), maxLength: 30 }),
);
const fields = fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 12 });

const mounts = dicomwebMounts('http://127.0.0.1:8042/dicom-web', 'http://127.0.0.1:8042/wado');
const GATEWAY_FIELDS = new Set(['host', 'content-length', 'transfer-encoding', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

function parseHead(text: string): RequestHead | undefined {
  const buf = Buffer.from(text, 'latin1');
  const h = parseRequestHead(buf, buf.indexOf('\r\n\r\n'));
  return isRefusal(h) ? undefined : h;
}

function names(head: string): string[] {
  return head.split('\r\n').slice(1).filter((l) => l !== '').map((l) => l.slice(0, l.indexOf(':')));
}

t.test('a forwarded request head: allow-listed names only, one canonical framing field, the same framing read back', async (t) => {
  let accepted = 0;
  fc.assert(fc.property(fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE'), fields, fc.boolean(), (method, extra, withHost) => {
    let text = `${method} /dicom-web/studies HTTP/1.1\r\n${withHost ? 'Host: gw.example\r\n' : ''}`;
    for (const [k, v] of extra) text += `${k}: ${v}\r\n`;
    const head = parseHead(`${text}\r\n`);
    if (head === undefined) return; // refused: nothing is forwarded
    accepted++;
    const m = mountOf(mounts, head.target);
    if (m === undefined) throw new Error('not mounted');
    const out = pacsRequestHead(head, m, '192.0.2.7');
    const got = names(out);
    for (const n of got) {
      if (!FORWARDED_REQUEST_FIELDS.has(n) && !GATEWAY_FIELDS.has(n)) throw new Error(`forwarded a field not on the allow-list: ${n}`);
      if (n.includes('_')) throw new Error(`forwarded a name with "_": ${n}`);
    }
    const framing = got.filter((n) => n === 'content-length' || n === 'transfer-encoding');
    if (framing.length > 1) throw new Error(`more than one framing field: ${framing.join(', ')}`);
    if (got.filter((n) => n === 'host').length !== 1 || got.filter((n) => n === 'x-forwarded-for').length !== 1) throw new Error('host and x-forwarded-for once each');
    // The PACS, reading what the edge wrote with the edge's own strict parser, sees the same body.
    const back = parseHead(out);
    if (back === undefined) throw new Error(`the forwarded head is not a valid request: ${JSON.stringify(out)}`);
    if (JSON.stringify(back.body) !== JSON.stringify(head.body)) throw new Error(`framing changed: ${JSON.stringify(head.body)} → ${JSON.stringify(back.body)}`);
  }), { numRuns: RUNS, seed: SEED });
  t.ok(accepted > RUNS / 4, `enough generated heads were accepted to mean something (${accepted} of ${RUNS})`);
});

const TE = ['chunked', 'Chunked', 'CHUNKED', 'xchunked', 'chunked, identity', 'chunked garbage', 'gzip, chunked', 'chunked,chunked', 'identity', ''];
const CL = ['0', '00', '2', '02', '10', '5'];

t.test('a relayed response head: one canonical framing field, none on 1xx and 204, the same framing read back', async (t) => {
  let accepted = 0;
  const framingField = fc.oneof(
    fc.tuple(fc.constant('Transfer-Encoding'), fc.constantFrom(...TE)),
    fc.tuple(fc.constant('Content-Length'), fc.constantFrom(...CL)),
    fc.tuple(fc.constantFrom('Content_Length', 'Transfer_Encoding', 'content-Length', 'TRANSFER-ENCODING'), fc.constantFrom(...TE, ...CL)),
  );
  fc.assert(fc.property(
    fc.constantFrom(100, 103, 200, 204, 206, 304, 404, 500), fc.constantFrom('GET', 'HEAD'),
    fc.array(framingField, { maxLength: 3 }), fields, fc.boolean(),
    (status, method, framingFields, extra, close) => {
      let text = `HTTP/1.1 ${String(status)} X\r\n`;
      for (const [k, v] of [...framingFields, ...extra]) text += `${k}: ${v}\r\n`;
      const buf = Buffer.from(`${text}\r\n`, 'latin1');
      const res = parseResponseHead(buf, buf.indexOf('\r\n\r\n'), method);
      if (typeof res === 'string') return; // malformed: the client gets a 502 of the edge's own
      accepted++;
      const out = pacsResponseHead(res, close);
      const got = names(out).map((n) => n.toLowerCase());
      const framing = got.filter((n) => n === 'content-length' || n === 'transfer-encoding');
      if (framing.length > 1) throw new Error(`more than one framing field: ${JSON.stringify(out)}`);
      if ((status < 200 || status === 204) && framing.length > 0) throw new Error(`framing on a ${String(status)}`);
      const outBuf = Buffer.from(out, 'latin1');
      const back = parseResponseHead(outBuf, outBuf.indexOf('\r\n\r\n'), method);
      if (typeof back === 'string') throw new Error(`the relayed head does not parse: ${back}: ${JSON.stringify(out)}`);
      if (JSON.stringify(res.body) !== JSON.stringify(back.body)) throw new Error(`framing changed: ${JSON.stringify(res.body)} → ${JSON.stringify(back.body)}`);
      if (out.includes('transfer-encoding') && !out.includes('transfer-encoding: chunked\r\n')) throw new Error('a transfer coding other than chunked went out');
    },
  ), { numRuns: RUNS, seed: SEED });
  t.ok(accepted > RUNS / 4, `enough generated heads were accepted to mean something (${accepted} of ${RUNS})`);
});
