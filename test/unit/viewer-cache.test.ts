// The viewer's memory cache: which files it keeps, its budget, the gzip copy or the file; and Accept-Encoding.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { ViewerCache, MAX_FILE_BYTES } from '../../src/http/viewer/viewer-cache.js';
import { acceptsGzip } from '../../src/http/viewer/viewer-routes.js';

function build(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-viewer-cache-'));
  writeFileSync(join(dir, 'a.js'), 'console.log("a");'.repeat(100));
  writeFileSync(join(dir, 'a.js.gz'), gzipSync('console.log("a");'.repeat(100)));
  writeFileSync(join(dir, 'small.css'), 'b{}');
  writeFileSync(join(dir, 'x.map'), '{}');
  writeFileSync(join(dir, 'big.wasm'), Buffer.alloc(MAX_FILE_BYTES + 1));
  return dir;
}

t.test('keeps listed types, the gzip copy when asked and present, the file otherwise', async (t) => {
  const c = new ViewerCache(build());
  const gz = await c.get('a.js', true);
  t.equal(gz?.encoding, 'gzip');
  t.equal(gz?.type, 'text/javascript; charset=utf-8');
  const plain = await c.get('a.js', false);
  t.equal(plain?.encoding, undefined);
  t.equal(plain?.body.toString(), 'console.log("a");'.repeat(100));
  t.not(gz?.etag, plain?.etag, 'each representation has its own validator');
  const css = await c.get('small.css', true);
  t.equal(css?.encoding, undefined, 'no gzip copy (too small to have one): the file itself');
  t.equal(css?.body.toString(), 'b{}');
  t.equal(await c.get('x.map', false), undefined, 'a type not listed: streamed by the caller');
  t.equal(await c.get('big.wasm', false), undefined, 'larger than MAX_FILE_BYTES: streamed');
  t.equal(await c.get('gone.js', false), undefined, 'missing: the caller answers');
  t.equal(c.bytes, gz!.body.length + plain!.body.length + 3, 'only what it keeps is counted');
  t.equal(await c.get('a.js', true), gz, 'read once, then the same entry');
});

t.test('a budget: beyond it, files are streamed', async (t) => {
  const dir = build();
  const c = new ViewerCache(dir, 1000);
  t.ok(await c.get('a.js', true), 'the gzip copy fits');
  t.equal(await c.get('a.js', false), undefined, 'the 1,700-byte file does not');
  t.ok(c.bytes <= 1000);
});

t.test('Accept-Encoding', async (t) => {
  t.ok(acceptsGzip('gzip, deflate, br'));
  t.ok(acceptsGzip('br;q=1.0, gzip;q=0.8'));
  t.ok(acceptsGzip('*'));
  t.ok(acceptsGzip(['deflate', 'GZIP']));
  t.notOk(acceptsGzip(undefined));
  t.notOk(acceptsGzip(''));
  t.notOk(acceptsGzip('br, deflate'));
  t.notOk(acceptsGzip('gzip;q=0'));
  t.notOk(acceptsGzip('identity'));
});
