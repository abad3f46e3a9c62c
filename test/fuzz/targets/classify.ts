// The DICOMweb classifier and WADO-URI query: an allowed request is inside the grammar and means the same to the PACS.

import fc from 'fast-check';
import { dicomwebMounts, mountOf, upstreamTarget } from '../../../src/http/dicomweb-guard.js';
import { must, type FuzzTarget } from '../engine/target.js';

const MOUNTS = dicomwebMounts('http://127.0.0.1:8042/dicom-web', 'http://127.0.0.1:8042/wado');
const METHODS = ['GET', 'HEAD', 'POST', 'DELETE', 'PUT', 'OPTIONS', 'get'];
const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;
const WORDS = new Set(['studies', 'series', 'instances', 'metadata', 'rendered', 'thumbnail', 'frames', 'bulk']);

/** Splits the input: first byte picks the method, the rest is the request target as the head parser hands it on. */
function request(input: Buffer): { method: string; target: string } {
  return { method: METHODS[(input[0] ?? 0) % METHODS.length] as string, target: input.toString('latin1', 1) };
}

const SEGMENT_TOKENS = ['studies', 'series', 'instances', 'metadata', 'rendered', 'thumbnail', 'frames', 'bulk', '1.2.3', '1.2.840.10008.1', '/', '//', '.', '..', '%2e', '%2f', '%252e', ';', '\\', '?', '&', '=', '#', '%00', '0', '00', '1,2', '7FE00010', '%', '+'];

export const classifyTarget: FuzzTarget = {
  name: 'classify-dicomweb',
  about: 'src/http/classify-dicomweb.ts + dicomweb-guard.ts mountOf/upstreamTarget: an allowed path has only grammar words, UIDs, frame lists and tags, no encodings or dot segments, and the URL the PACS gets normalises to itself under the upstream root',
  files: ['src/http/classify-dicomweb', 'src/http/dicomweb-guard'],
  maxLength: 512,
  dictionary: SEGMENT_TOKENS,
  seeds: () => [
    '/dicom-web/studies?limit=25&includefield=00081030', '/dicom-web/studies/1.2.3/series/4.5.6/instances/7.8.9/frames/1,2',
    '/dicom-web/studies/1.2.3/series/4.5.6/metadata', '/dicom-web/studies/1.2/series/3/instances/4/bulk/7FE00010',
    '/dicom-web/studies/1.2.3', '/dicom-web/series', '/dicom-web/studies/1.2.3/series/4.5.6/instances/7.8.9/rendered',
  ].flatMap((t) => [Buffer.from(`\0${t}`, 'latin1'), Buffer.from(`\x02${t}`, 'latin1'), Buffer.from(`\x03${t}`, 'latin1')]),
  generate: fc.tuple(fc.integer({ min: 0, max: 6 }), fc.array(fc.constantFrom(...SEGMENT_TOKENS), { maxLength: 10 })).map(([m, segs]) => Buffer.from(String.fromCharCode(m) + `/dicom-web/${segs.join('/')}`, 'latin1')),
  run(input) {
    const { method, target } = request(input);
    const mounted = mountOf(MOUNTS, target);
    if (mounted === undefined || mounted.mount.prefix !== '/dicom-web') return;
    const c = mounted.mount.classify(method, mounted.rest, mounted.query);
    if (!c.ok) {
      must([400, 404, 405].includes(c.status), `refusal status ${c.status}`);
      return;
    }
    const segs = mounted.rest === '' ? [] : mounted.rest.split('/');
    for (const s of segs) {
      must(WORDS.has(s) || (s.length <= 64 && UID.test(s)) || /^[1-9][0-9]*(,[1-9][0-9]*)*$/.test(s) || /^[0-9A-Fa-f]{8}$/.test(s) || /^[0-9]{1,6}$/.test(s), `allowed path segment ${JSON.stringify(s)}`);
    }
    must(!/[%;\\\0-\x20\x7f-\xff]/.test(mounted.rest), `allowed path ${JSON.stringify(mounted.rest)} has characters outside the grammar`);
    must(!/[\0-\x1f\x7f]/.test(mounted.query), 'allowed query with control characters');
    for (const uid of [c.studyUid, c.seriesUid, c.instanceUid]) must(uid === undefined || segs.includes(uid), `reported UID ${uid} is not in the path`);
    const up = upstreamTarget(mounted);
    const upPath = up.split('?')[0] as string;
    const url = new URL(up, 'http://127.0.0.1:8042');
    must(url.pathname === upPath, `the PACS path ${JSON.stringify(upPath)} normalises to ${JSON.stringify(url.pathname)}`);
    must(upPath === '/dicom-web' || upPath.startsWith('/dicom-web/'), `the PACS path ${JSON.stringify(upPath)} leaves the DICOMweb root`);
  },
};

/** A raw query parsed as a server that does not percent-decode reads it (Orthanc's WADO-URI, DESIGN.md). */
function rawParams(query: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? '' : pair.slice(eq + 1);
    out.set(k, [...(out.get(k) ?? []), v]);
  }
  return out;
}

export const wadoUriTarget: FuzzTarget = {
  name: 'wado-uri',
  about: 'src/http/classify-dicomweb.ts classifyWadoUri: an allowed query names one requestType=WADO and one valid UID per level, and a PACS reading the query undecoded sees the same parameters and UIDs the guard authorised and audited',
  files: ['src/http/classify-dicomweb', 'src/http/dicomweb-guard'],
  maxLength: 512,
  dictionary: ['requestType=WADO', 'studyUID=', 'seriesUID=', 'objectUID=', '&', '=', '%2E', '%26', '%3D', '+', '%20', '1.2.3', 'contentType=application%2Fdicom', '%00', '%', 'requesttype=WADO', 'studyUID=1.2.3&studyUID=4'],
  seeds: () => ['/wado?requestType=WADO&studyUID=1.2.3&seriesUID=4.5.6&objectUID=7.8.9&contentType=application%2Fdicom', '/wado?requestType=WADO&studyUID=1.2&seriesUID=3&objectUID=4'].map((s) => Buffer.from(`\0${s}`, 'latin1')),
  run(input) {
    const { method, target } = request(input);
    const mounted = mountOf(MOUNTS, target);
    if (mounted === undefined || mounted.mount.prefix !== '/wado') return;
    const c = mounted.mount.classify(method, mounted.rest, mounted.query);
    if (!c.ok) {
      must([400, 404, 405].includes(c.status), `refusal status ${c.status}`);
      return;
    }
    const raw = rawParams(mounted.query);
    const one = (k: string): string | undefined => (raw.get(k)?.length === 1 ? raw.get(k)?.[0] : undefined);
    must(one('requestType') === 'WADO', `the PACS reads requestType as ${JSON.stringify(raw.get('requestType'))}`);
    must(one('studyUID') === c.studyUid && one('seriesUID') === c.seriesUid && one('objectUID') === c.instanceUid,
      `the guard authorised ${c.studyUid}/${c.seriesUid}/${c.instanceUid}; the PACS reads ${JSON.stringify([raw.get('studyUID'), raw.get('seriesUID'), raw.get('objectUID')])}`);
  },
};
