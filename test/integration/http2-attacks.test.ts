// HTTP/2 limits and attacks against a real gateway and Orthanc, with frames written by hand: bounded
// concurrent streams, header list size, HPACK bomb, CONTINUATION flood, rapid reset (CVE-2023-44487),
// Content-Length vs DATA mismatches, pseudo-header tricks, h2c upgrades and the h2 preface on the
// HTTP/1.1 side. Each must be refused without anything unexpected reaching Orthanc.

import t from 'tap';
import { startGateway } from '../helpers/gateway.js';
import { FLAG, FRAME, frame, getHeaders, h2Session, hpack, hpackBomb, rawH2, type RawH2 } from '../helpers/h2.js';
import { makeInstance } from '../helpers/instances.js';
import { getInstanceFile, startOrthanc } from '../helpers/orthanc.js';
import { Raw, request } from '../helpers/raw-http.js';

const SETTINGS_MAX_CONCURRENT_STREAMS = 3;
const SETTINGS_MAX_HEADER_LIST_SIZE = 6;

function settingsOf(payload: Buffer): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i + 6 <= payload.length; i += 6) m.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
  return m;
}

/** The stream's end as the client saw it: RST_STREAM (its code), or a response HEADERS (2xx when its first byte is a static :status 200/204/206). */
async function streamEnd(c: RawH2, id: number): Promise<{ rst?: number; success?: boolean }> {
  const f = await Promise.race([
    c.waitFor((x) => x.streamId === id && (x.type === FRAME.RST_STREAM || x.type === FRAME.HEADERS)),
    c.closed.then(() => undefined),
  ]);
  if (f === undefined) return { rst: -1 };
  if (f.type === FRAME.RST_STREAM) return { rst: f.payload.readUInt32BE(0) };
  const b = f.payload[0] ?? 0;
  return { success: b === 0x88 || b === 0x89 || b === 0x8a };
}

function stowBody(part: Buffer, boundary = 'pgw-h2-attack'): { body: Buffer; contentType: string } {
  return {
    body: Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), part, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
  };
}

t.test('HTTP/2 limits and attacks', async (t) => {
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  const gw = await startGateway({ orthanc });
  t.teardown(() => gw.stop());
  const [viewer, technologist] = await Promise.all([gw.addUser('vera', 'viewer'), gw.addUser('theo', 'technologist')]);
  const vera = await gw.login(viewer);
  const theo = await gw.login(technologist);
  const open = async (): Promise<RawH2> => { const c = await rawH2(gw.httpsPort, gw.caPem); t.teardown(() => c.destroy()); return c; };
  const logged = (reason: RegExp): boolean => gw.logs.some((l) => typeof l['msg'] === 'string' && (reason.test(String(l['reason'] ?? '')) || reason.test(String(l['msg']))));

  await t.test('SETTINGS: bounded concurrent streams and header list; streams beyond the bound are refused', async (t) => {
    const c = await open();
    const settings = await c.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0);
    const s = settingsOf(settings.payload);
    t.equal(s.get(SETTINGS_MAX_CONCURRENT_STREAMS), 128);
    t.equal(s.get(SETTINGS_MAX_HEADER_LIST_SIZE), 32 * 1024);
    await c.waitFor((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) !== 0);
    // 140 login requests whose bodies never come: each keeps its stream open.
    const frames: Buffer[] = [];
    for (let i = 0; i < 140; i++) {
      frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS, 1 + 2 * i, hpack([[':method', 'POST'], [':scheme', 'https'], [':authority', 'localhost'], [':path', '/auth/login'], ['content-type', 'application/json']])));
    }
    c.send(...frames);
    await c.closed;
    // nghttp2 takes a stream beyond the advertised bound as a connection error: the session is closed
    // (its GOAWAY may be lost to the TCP reset of a socket closed with the client's bytes unread).
    t.ok(c.goawayCode() !== 0, `closed, no GOAWAY or one with an error (${String(c.goawayCode())})`);
    t.ok(logged(/HTTP\/2 session error/), 'a log line');
    t.notOk(c.frames.some((f) => f.type === FRAME.HEADERS && f.streamId > 2 * 128), 'no stream beyond the bound was answered');
  });

  await t.test('header list beyond maxHeaderListSize: refused, nothing reaches Orthanc', async (t) => {
    const before = await orthanc.httpRequests();
    const c = await open();
    const block = hpack([...getHeaders('/dicom-web/studies', [['authorization', `Bearer ${vera}`]]), ['x-big', 'a'.repeat(15000)], ['x-big2', 'b'.repeat(15000)], ['x-big3', 'c'.repeat(15000)]]);
    // HEADERS + CONTINUATION (frames of at most 16 KB).
    c.send(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, block.subarray(0, 16000)), frame(FRAME.CONTINUATION, 0, 1, block.subarray(16000, 32000)), frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, block.subarray(32000)));
    const end = await streamEnd(c, 1);
    t.notOk(end.success, `refused: ${JSON.stringify(end)}`);
    t.same(await orthanc.httpRequests(), before);
  });

  await t.test('HPACK bomb: a 4 KB table entry referenced a thousand times', async (t) => {
    const before = await orthanc.httpRequests();
    const c = await open();
    const block = Buffer.concat([hpack(getHeaders('/dicom-web/studies', [['authorization', `Bearer ${vera}`]])), hpackBomb('x-bomb', 'z'.repeat(4000), 1000)]);
    c.send(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, 1, block));
    const end = await streamEnd(c, 1);
    t.notOk(end.success, `refused: ${JSON.stringify(end)}`);
    t.same(await orthanc.httpRequests(), before);
  });

  await t.test('CONTINUATION flood: HEADERS never ended; the session is closed with GOAWAY', async (t) => {
    const c = await open();
    const frames = [frame(FRAME.HEADERS, 0, 1, hpack(getHeaders('/healthz')))];
    for (let i = 0; i < 2000; i++) frames.push(frame(FRAME.CONTINUATION, 0, 1, hpack([[`x-c${String(i)}`, 'v']])));
    c.send(...frames);
    await c.closed;
    t.ok(c.goawayCode() !== 0, `closed, with no GOAWAY or one with an error (${String(c.goawayCode())}): ${c.frames.map((f) => `${String(f.type)}/${String(f.streamId)}`).join(' ')}`);
    t.notOk(c.frames.some((f) => f.streamId === 1 && f.type === FRAME.HEADERS), 'no answer to the unfinished header block');
  });

  await t.test('rapid reset (CVE-2023-44487): HEADERS + RST_STREAM by the thousand; GOAWAY, the PACS spared', async (t) => {
    const before = (await orthanc.httpRequests()).length;
    const c = await open();
    const block = hpack(getHeaders('/dicom-web/studies', [['authorization', `Bearer ${vera}`]]));
    // Batches of 200 HEADERS + RST_STREAM pairs, each followed by a PING, as a client that reads its
    // socket (a client that never reads loses the GOAWAY to the TCP reset of a socket closed unread).
    let closed = false;
    void c.closed.then(() => { closed = true; });
    let sent = 0;
    for (let batch = 0; batch < 15 && !closed && c.goawayCode() === undefined; batch++) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 200; i++) {
        const id = 1 + 2 * sent++;
        frames.push(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, id, block), frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
      }
      const ping = Buffer.alloc(8);
      ping.writeUInt32BE(batch + 1, 4);
      c.send(...frames, frame(FRAME.PING, 0, 0, ping));
      await Promise.race([c.closed, c.waitFor((f) => f.type === FRAME.GOAWAY || (f.type === FRAME.PING && f.payload.equals(ping)))]);
    }
    await c.closed;
    t.equal(c.goawayCode(), 11, `GOAWAY ENHANCE_YOUR_CALM after ${String(sent)} streams`);
    const reached = (await orthanc.httpRequests()).length - before;
    t.ok(reached <= 256, `at most 2 × maxConcurrentStreams requests reached Orthanc (${String(reached)})`);
    t.ok(logged(/rapid reset|too much HTTP\/2 work/), 'a log line says why');
    // The gateway still serves others.
    const h2 = await h2Session(gw.httpsPort, gw.caPem);
    t.teardown(() => h2.close());
    t.equal((await h2.request('GET', '/dicom-web/studies', { headers: { authorization: `Bearer ${vera}` } })).status, 200);
  });

  await t.test('Content-Length vs DATA: longer or shorter bodies are refused, never stored', async (t) => {
    for (const [name, delta] of [['shorter DATA', 10], ['longer DATA', -10]] as const) {
      const inst = makeInstance();
      const { body, contentType } = stowBody(inst.buffer);
      const c = await open();
      c.send(frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, hpack([
        [':method', 'POST'], [':scheme', 'https'], [':authority', 'localhost'], [':path', '/dicom-web/studies'],
        ['authorization', `Bearer ${theo}`], ['content-type', contentType], ['content-length', String(body.length + delta)],
      ])));
      for (let i = 0; i < body.length; i += 16000) c.send(frame(FRAME.DATA, i + 16000 >= body.length ? FLAG.END_STREAM : 0, 1, body.subarray(i, i + 16000)));
      const end = await streamEnd(c, 1);
      t.notOk(end.success, `${name}: refused (${JSON.stringify(end)})`);
      c.destroy();
      t.equal(await getInstanceFile(orthanc, inst.sopInstanceUid), undefined, `${name}: not stored`);
    }
    // The same body with the right length is stored: the refusals above were about the length.
    const inst = makeInstance();
    const { body, contentType } = stowBody(inst.buffer);
    const h2 = await h2Session(gw.httpsPort, gw.caPem);
    t.teardown(() => h2.close());
    const ok = await h2.request('POST', '/dicom-web/studies', { headers: { authorization: `Bearer ${theo}`, 'content-type': contentType, 'content-length': String(body.length) }, body });
    t.equal(ok.status, 200, ok.text);
  });

  await t.test('pseudo-header tricks are refused; nothing reaches Orthanc', async (t) => {
    const before = await orthanc.httpRequests();
    const auth: [string, string] = ['authorization', `Bearer ${vera}`];
    const cases: Record<string, [string, string][]> = {
      'absolute-form :path': [[':method', 'GET'], [':scheme', 'https'], [':authority', 'localhost'], [':path', 'https://localhost/dicom-web/studies'], auth],
      ':authority and Host disagree': [[':method', 'GET'], [':scheme', 'https'], [':authority', 'localhost'], [':path', '/dicom-web/studies'], ['host', 'pacs.internal'], auth],
      'missing :path': [[':method', 'GET'], [':scheme', 'https'], [':authority', 'localhost'], auth],
      'repeated :path': [[':method', 'GET'], [':scheme', 'https'], [':authority', 'localhost'], [':path', '/dicom-web/studies'], [':path', '/tools'], auth],
      CONNECT: [[':method', 'CONNECT'], [':authority', '127.0.0.1:8042'], auth],
      ':scheme http': [[':method', 'GET'], [':scheme', 'http'], [':authority', 'localhost'], [':path', '/dicom-web/studies'], auth],
      'asterisk :path': [[':method', 'OPTIONS'], [':scheme', 'https'], [':authority', 'localhost'], [':path', '*'], auth],
      'pseudo-header after a field': [[':method', 'GET'], [':scheme', 'https'], [':authority', 'localhost'], auth, [':path', '/dicom-web/studies']],
      'connection-specific field': [...getHeaders('/dicom-web/studies', [auth]), ['connection', 'keep-alive']],
      'transfer-encoding': [[':method', 'POST'], [':scheme', 'https'], [':authority', 'localhost'], [':path', '/dicom-web/studies'], auth, ['transfer-encoding', 'chunked']],
      'upper-case name': [...getHeaders('/dicom-web/studies', [auth]), ['X-Upper', '1']],
    };
    for (const [name, fields] of Object.entries(cases)) {
      const c = await open();
      c.send(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, 1, hpack(fields)));
      const end = await streamEnd(c, 1);
      t.notOk(end.success, `${name}: refused (${JSON.stringify(end)})`);
      c.destroy();
    }
    t.same(await orthanc.httpRequests(), before, 'no request reached Orthanc');
    // A CR LF in a value: nghttp2 drops the field (RFC 9113 §8.2.1), the request goes on without it.
    const c = await open();
    c.send(frame(FRAME.HEADERS, FLAG.END_STREAM | FLAG.END_HEADERS, 1, hpack([...getHeaders('/dicom-web/studies?CRLF=1', [auth]), ['accept', 'application/dicom+json\r\nx-injected: 1']])));
    await streamEnd(c, 1);
    const forwarded = (await orthanc.httpRequestDetails()).filter((r) => r.uri.includes('CRLF=1'));
    t.ok(forwarded.every((r) => !JSON.stringify(r.headers).toLowerCase().includes('x-injected')), 'no injected field reached Orthanc');
    t.ok(logged(/:authority and Host disagree/), 'the refusal the gateway makes itself is logged');
  });

  await t.test('h2c upgrade and the HTTP/2 preface on the HTTP/1.1 side are not honoured', async (t) => {
    const raw = await Raw.open(gw.httpsPort);
    t.teardown(() => raw.destroy());
    await raw.write(request('GET', '/healthz', { host: 'localhost', connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAAP__' }));
    const r = await raw.response();
    t.not(r.status, 101, `no switch to h2c (${String(r.status)})`);
    const raw2 = await Raw.open(gw.httpsPort);
    t.teardown(() => raw2.destroy());
    await raw2.write(request('GET', '/dicom-web/studies', { host: 'localhost', authorization: `Bearer ${vera}`, connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAAP__' }));
    const d = await raw2.response();
    t.not(d.status, 101);
    const raw3 = await Raw.open(gw.httpsPort);
    t.teardown(() => raw3.destroy());
    await raw3.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const p = await raw3.response();
    t.ok(p.status === 505 || p.status === 400, `prior-knowledge preface over http/1.1 refused (${String(p.status)})`);
  });
});
