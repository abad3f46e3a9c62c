// What the HTTPS edge passes on, seen by a sentinel PACS that records the raw bytes it gets and
// answers fixed responses: header names with "_" never reach it, framing is forwarded as one
// canonical field, refusals of HEAD carry no body, and a response framing the edge does not frame
// itself (an unknown transfer coding) is a 502, never relayed as is.

import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { Raw, request } from '../helpers/raw-http.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** A stand-in for the PACS's DICOMweb port: records every byte per connection, answers one response per connection and closes. */
interface Sentinel {
  readonly port: number;
  /** Raw bytes received, one string (latin1) per upstream connection, in the order connections were opened. */
  readonly received: string[];
  /** Waits until `n` connections have been answered and closed. */
  answered(n: number): Promise<void>;
  close(): void;
}

/** The response for a request, chosen by its query's `case=` value; the default is a 200 with "[]". */
type Responses = Readonly<Record<string, string>>;

async function startSentinel(responses: Responses): Promise<Sentinel> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  let done = 0;
  const waiters: (() => void)[] = [];
  const server = createNetServer((sock) => {
    sockets.add(sock);
    const i = received.push('') - 1;
    let buf = Buffer.alloc(0);
    let answered = false;
    sock.on('data', (c: Buffer) => {
      received[i] += c.toString('latin1');
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf(CRLFCRLF);
      if (answered || end < 0) return;
      const head = buf.toString('latin1', 0, end);
      // Wait for a body the first Content-Length announces (lenient, as a PACS might be).
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (cl !== null && buf.length < end + 4 + Number(cl[1])) return;
      answered = true;
      const which = /[?&]case=([a-z0-9-]+)/.exec(head.split('\r\n')[0] ?? '')?.[1] ?? 'ok';
      sock.end(responses[which] ?? 'HTTP/1.1 200 OK\r\ncontent-type: application/dicom+json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]', 'latin1');
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      sockets.delete(sock);
      done++;
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    async answered(n) { while (done < n) await new Promise<void>((r) => waiters.push(r)); },
    close() { for (const s of sockets) s.destroy(); server.close(); },
  };
}

/** The header field names of every request head in `raw` (lower case). */
function fieldNames(raw: string): string[] {
  const names: string[] = [];
  for (const head of raw.split('\r\n\r\n')) {
    const lines = head.split('\r\n');
    if (!/^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(lines[0] ?? '')) continue;
    for (const l of lines.slice(1)) names.push(l.slice(0, l.indexOf(':')).toLowerCase());
  }
  return names;
}

async function setup(t: Test, responses: Responses = {}): Promise<{ gw: TestGateway; sentinel: Sentinel; auth: (role?: string) => Promise<Record<string, string>>; open: () => Promise<Raw> }> {
  const sentinel = await startSentinel(responses);
  t.teardown(() => sentinel.close());
  const base = `http://127.0.0.1:${sentinel.port}`;
  const gw = await startGateway({ orthanc: { dicomwebUrl: `${base}/dicom-web`, wadoUrl: `${base}/wado`, dicomPort: 9, aeTitle: 'PACS' } });
  t.teardown(() => gw.stop());
  const tokens = new Map<string, string>();
  const auth = async (role = 'admin'): Promise<Record<string, string>> => {
    let token = tokens.get(role);
    if (token === undefined) {
      token = await gw.login(await gw.addUser(`user-${role}`, role));
      tokens.set(role, token);
    }
    return { Authorization: `Bearer ${token}` };
  };
  const open = async (): Promise<Raw> => {
    const c = await Raw.open(gw.httpsPort);
    t.teardown(() => c.destroy());
    return c;
  };
  return { gw, sentinel, auth, open };
}

t.test('header names with "_" never reach the PACS (dropped, as nginx does)', async (t) => {
  const { sentinel, auth, open } = await setup(t);
  const c = await open();
  // An upstream that maps "_" to "-" would read Content_Length / Transfer_Encoding as framing and
  // take the next request's bytes for a body (or the body for a request): request smuggling.
  await c.write(request('GET', '/dicom-web/studies', {
    ...(await auth('viewer')),
    Content_Length: '62',
    Transfer_Encoding: 'chunked',
    X_Forwarded_For: '6.6.6.6',
    x_real_ip: '6.6.6.7',
    'X-Forwarded_Host': 'evil.example',
  }));
  const r = await c.response();
  t.equal(r.status, 200, 'the request itself is served');
  await sentinel.answered(1);
  const names = fieldNames(sentinel.received.join(''));
  t.same(names.filter((n) => n.includes('_')), [], `no field name with "_" reached the PACS (got: ${names.join(', ')})`);
  t.notMatch(sentinel.received.join(''), /6\.6\.6\.[67]|evil\.example/, 'none of their values either');
  t.same(names.filter((n) => n === 'x-forwarded-for'), ['x-forwarded-for'], 'one X-Forwarded-For: the gateway\'s own');
  t.match(sentinel.received[0], /\r\nx-forwarded-for: 127\.0\.0\.1\r\n/);
});

t.test('repeated Content-Length fields are refused (as llhttp and nginx do); a lone one reaches the PACS in canonical form', async (t) => {
  const { sentinel, auth, open } = await setup(t);
  const stow = { ...(await auth('admin')), 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b' };
  // request() writes header names as given; two keys differing in case give two fields.
  for (const [name, headers, body] of [
    ['Content-Length: 5 twice', { ...stow, 'Content-Length': '5', 'content-length': '5' }, 'hello'],
    ['Content-Length: 0 and 00', { ...stow, 'Content-Length': '0', 'content-length': '00' }, ''],
  ] as const) {
    const c = await open();
    await c.write(request('POST', '/dicom-web/studies', headers, body));
    const r = await c.response();
    t.equal(r.status, 400, `${name}: refused`);
    await c.untilClosed();
  }
  t.equal(sentinel.received.length, 0, 'nothing reached the PACS');
  const c = await open();
  await c.write(request('POST', '/dicom-web/studies', { ...stow, 'Content-Length': '007' }, 'abcdefg'));
  const r = await c.response();
  t.equal(r.status, 200, 'Content-Length: 007 forwarded');
  await sentinel.answered(1);
  const raw = sentinel.received[0] ?? '';
  const lengths = raw.split('\r\n\r\n')[0]?.split('\r\n').filter((l) => /^content-length:/i.test(l));
  t.same(lengths, ['content-length: 7'], 'exactly one canonical Content-Length reached the PACS');
  t.equal(raw.slice(raw.indexOf('\r\n\r\n') + 4), 'abcdefg', 'the body byte for byte');
});

t.test('refusals of HEAD requests carry no body', async (t) => {
  const { sentinel, auth, open } = await setup(t);
  const viewer = await auth('viewer');

  const http10 = await open();
  await http10.write(request('HEAD', '/dicom-web/studies', viewer, undefined, '1.0'));
  const r505 = await http10.response({ headOnly: true });
  t.equal(r505.status, 505, 'HTTP/1.0 DICOMweb → 505');
  await http10.untilClosed();
  t.equal(http10.pending.length, 0, 'no body after the 505 head');

  const withBody = await open();
  await withBody.write(request('HEAD', '/dicom-web/studies', { ...viewer, 'Content-Length': '5' }, 'hello'));
  const r400 = await withBody.response({ headOnly: true });
  t.equal(r400.status, 400, 'HEAD with a body → 400');
  await withBody.untilClosed();
  t.equal(withBody.pending.length, 0, 'no body after the 400 head');

  const badVersion = await open();
  await badVersion.write('HEAD /dicom-web/studies HTTP/1.2\r\nHost: localhost\r\n\r\n');
  const r505b = await badVersion.response({ headOnly: true });
  t.equal(r505b.status, 505, 'HTTP/1.2 → 505');
  await badVersion.untilClosed();
  t.equal(badVersion.pending.length, 0, 'no body after a 505 for an unsupported version');

  const refused = await open();
  await refused.write(request('HEAD', '/dicom-web/studies', { ...viewer, 'Transfer-Encoding': 'gzip, chunked' }));
  const r501 = await refused.response({ headOnly: true });
  t.equal(r501.status, 501, 'an unsupported transfer coding → 501');
  await refused.untilClosed();
  t.equal(refused.pending.length, 0, 'no body after a refused head');
  t.same(sentinel.received, [], 'nothing reached the PACS');
});

t.test('a response transfer coding the edge does not frame itself is a 502; framing goes out canonical', async (t) => {
  const head = (fields: string): string => `HTTP/1.1 200 OK\r\ncontent-type: application/dicom+json\r\n${fields}connection: close\r\n\r\n`;
  const { auth, open } = await setup(t, {
    xchunked: `${head('transfer-encoding: xchunked\r\n')}2\r\n[]\r\n0\r\n\r\n`,
    'chunked-identity': `${head('transfer-encoding: chunked, identity\r\n')}2\r\n[]\r\n0\r\n\r\n`,
    'chunked-garbage': `${head('transfer-encoding: chunked garbage\r\n')}2\r\n[]\r\n0\r\n\r\n`,
    'gzip-chunked': `${head('transfer-encoding: gzip, chunked\r\n')}2\r\n[]\r\n0\r\n\r\n`,
    'two-te': `${head('transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n')}2\r\n[]\r\n0\r\n\r\n`,
    'te-and-cl': `${head('transfer-encoding: chunked\r\ncontent-length: 2\r\n')}2\r\n[]\r\n0\r\n\r\n`,
    chunked: `${head('Transfer-Encoding: Chunked\r\n')}2\r\n[]\r\n0\r\n\r\n`,
    'two-cl': `${head('content-length: 2\r\nContent-Length: 02\r\n')}[]`,
    continue: 'HTTP/1.1 100 Continue\r\ncontent-length: 0\r\n\r\nHTTP/1.1 103 Early Hints\r\ntransfer-encoding: chunked\r\nlink: </x>; rel=preload\r\n\r\n' + `${head('content-length: 2\r\n')}[]`,
    'no-content': 'HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
  });
  const viewer = await auth('viewer');
  const get = async (which: string): Promise<Raw> => {
    const c = await open();
    await c.write(request('GET', `/dicom-web/studies?case=${which}`, viewer));
    return c;
  };
  for (const which of ['xchunked', 'chunked-identity', 'chunked-garbage', 'gzip-chunked', 'two-te', 'te-and-cl']) {
    const c = await get(which);
    const r = await c.response();
    t.equal(r.status, 502, `${which}: 502`);
    t.match(r.text(), /"error":"ERR_UPSTREAM_UNAVAILABLE".*does not relay/, `${which}: the PACS's answer is not relayed`);
    t.same(r.all('transfer-encoding'), [], `${which}: no transfer-encoding from the PACS`);
  }

  const ok = await (await get('chunked')).response();
  t.equal(ok.status, 200, 'chunked (any case): relayed');
  t.same(ok.all('transfer-encoding'), ['chunked'], 'as one canonical transfer-encoding: chunked');
  t.equal(ok.text(), '[]');

  const twoCl = await (await get('two-cl')).response();
  t.equal(twoCl.status, 200);
  t.same(twoCl.all('content-length'), ['2'], 'identical Content-Length fields from the PACS go out as one');
  t.equal(twoCl.text(), '[]');

  const interim = await get('continue');
  const r100 = await interim.response();
  t.equal(r100.status, 100);
  t.same(r100.all('content-length'), [], '100 goes out without Content-Length');
  const r103 = await interim.response();
  t.equal(r103.status, 103);
  t.same([...r103.all('content-length'), ...r103.all('transfer-encoding')], [], '103 goes out without framing fields');
  t.equal(r103.get('link'), '</x>; rel=preload', 'other fields of a 1xx pass');
  const final = await interim.response();
  t.equal(final.status, 200);
  t.equal(final.text(), '[]');

  const noContent = await (await get('no-content')).response();
  t.equal(noContent.status, 204);
  t.same(noContent.all('content-length'), [], '204 goes out without Content-Length');
});
