// Pure classifier: maps a raw DICOMweb request (method + undecoded URL) to an action, or refuses it.

import type { Action } from '../policy/actions.js';

export interface DicomwebRoute {
  readonly ok: true;
  readonly action: Action;
  /** Which service: qido, wado-rs, stow-rs, delete, wado-uri. */
  readonly service: 'qido-rs' | 'wado-rs' | 'stow-rs' | 'delete' | 'wado-uri';
  readonly studyUid?: string;
  readonly seriesUid?: string;
  readonly instanceUid?: string;
}

export interface DicomwebRefusal {
  readonly ok: false;
  /** 400 for malformed or suspicious paths, 404 for paths that are not DICOMweb, 405 for a wrong method. */
  readonly status: 400 | 404 | 405;
  readonly reason: string;
}

export type Classification = DicomwebRoute | DicomwebRefusal;

/** PS3.5 §9.1: UID components are digits separated by dots, at most 64 characters. */
const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;
/** Characters a legitimate DICOMweb path can contain: no %, ;, \, whitespace or controls. */
const SAFE_PATH = /^[A-Za-z0-9.,/-]*$/;
const FRAME_LIST = /^[1-9][0-9]{0,8}(,[1-9][0-9]{0,8}){0,255}$/;
const TAG = /^[0-9A-Fa-f]{8}$/;
const RENDERINGS = new Set(['metadata', 'rendered', 'thumbnail']);

const refuse = (status: 400 | 404 | 405, reason: string): DicomwebRefusal => ({ ok: false, status, reason });

function isUid(s: string | undefined): s is string {
  return s !== undefined && s.length <= 64 && UID.test(s);
}

/** Checks the raw path for encodings and tricks before any segment is interpreted. */
function checkRawPath(path: string): DicomwebRefusal | undefined {
  if (!SAFE_PATH.test(path)) return refuse(400, 'path-characters-refused');
  if (path.includes('//')) return refuse(400, 'empty-path-segment');
  if (/(^|\/)\.{1,2}(\/|$)/.test(path)) return refuse(400, 'dot-segment');
  return undefined;
}

function checkQuery(query: string): DicomwebRefusal | undefined {
  // Query strings are forwarded byte for byte (Orthanc's WADO-URI does not decode them); only refuse NUL and raw controls.
  if (/%00|[\x00-\x1f\x7f]/i.test(query)) return refuse(400, 'query-characters-refused');
  return undefined;
}

/** Classifies the part of a WADO-RS path after studies/{study}[/series/{series}[/instances/{instance}]]. */
function classifyRetrieveTail(tail: readonly string[], level: 'study' | 'series' | 'instance'): boolean {
  if (tail.length === 0) return true;
  const [first, second, third] = tail;
  if (tail.length === 1 && first !== undefined && RENDERINGS.has(first)) return true;
  if (level !== 'instance') return false;
  if (first === 'frames' && second !== undefined && FRAME_LIST.test(second)) {
    return tail.length === 2 || (tail.length === 3 && (third === 'rendered' || third === 'thumbnail'));
  }
  if (first === 'bulk' && tail.length >= 2 && tail.length <= 17) {
    // bulk/{tag}[/{index}/{tag}…] as Orthanc's DICOMweb plugin writes BulkDataURIs
    return tail.slice(1).every((s, i) => (i % 2 === 0 ? TAG.test(s) : /^[0-9]{1,6}$/.test(s)));
  }
  return false;
}

/**
 * Classifies a request under the DICOMweb prefix. `rest` is the raw (undecoded) path after
 * the prefix, without a leading slash, and `query` the raw query string (without '?').
 */
export function classifyDicomweb(method: string, rest: string, query = ''): Classification {
  const bad = checkRawPath(rest) ?? checkQuery(query);
  if (bad !== undefined) return bad;
  const seg = rest === '' ? [] : rest.split('/');
  const m = method.toUpperCase();
  const read = m === 'GET' || m === 'HEAD';
  const [s0, study, s2, series, s4, instance] = seg;

  // QIDO-RS (PS3.18 §10.6): studies, series, instances at each level.
  const qido =
    (seg.length === 1 && (s0 === 'studies' || s0 === 'series' || s0 === 'instances')) ||
    (seg.length === 3 && s0 === 'studies' && isUid(study) && (s2 === 'series' || s2 === 'instances')) ||
    (seg.length === 5 && s0 === 'studies' && isUid(study) && s2 === 'series' && isUid(series) && s4 === 'instances');
  if (qido && !(seg.length === 1 && s0 === 'studies' && m === 'POST')) {
    if (!read) return refuse(405, 'method-not-allowed');
    return { ok: true, action: 'search', service: 'qido-rs', ...uids(study, series) };
  }
  if (s0 !== 'studies') return refuse(404, 'not-a-dicomweb-route');
  // STOW-RS (PS3.18 §10.5): POST studies[/{study}].
  if (m === 'POST') {
    if (seg.length === 1) return { ok: true, action: 'store', service: 'stow-rs' };
    if (seg.length === 2 && isUid(study)) return { ok: true, action: 'store', service: 'stow-rs', studyUid: study };
    return refuse(seg.length === 2 ? 404 : 405, seg.length === 2 ? 'not-a-uid' : 'method-not-allowed');
  }
  if (!isUid(study)) return refuse(404, 'not-a-uid');
  let level: 'study' | 'series' | 'instance' = 'study';
  let tailAt = 2;
  if (s2 === 'series') {
    if (!isUid(series)) return refuse(404, 'not-a-uid');
    level = 'series';
    tailAt = 4;
    if (s4 === 'instances') {
      if (!isUid(instance)) return refuse(404, 'not-a-uid');
      level = 'instance';
      tailAt = 6;
    }
  }
  const ids = uids(study, level === 'study' ? undefined : series, level === 'instance' ? instance : undefined);
  if (m === 'DELETE') {
    return seg.length === tailAt ? { ok: true, action: 'delete', service: 'delete', ...ids } : refuse(405, 'method-not-allowed');
  }
  if (!classifyRetrieveTail(seg.slice(tailAt), level)) return refuse(404, 'not-a-dicomweb-route');
  if (!read) return refuse(405, 'method-not-allowed');
  return { ok: true, action: 'retrieve', service: 'wado-rs', ...ids };
}

function uids(study?: string, series?: string, instance?: string): { studyUid?: string; seriesUid?: string; instanceUid?: string } {
  return {
    ...(study === undefined ? {} : { studyUid: study }),
    ...(series === undefined ? {} : { seriesUid: series }),
    ...(instance === undefined ? {} : { instanceUid: instance }),
  };
}

/** The query's parameters exactly as sent: split on "&" and the first "=", nothing decoded. */
function rawParams(query: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const list = out.get(key);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    if (list === undefined) out.set(key, [value]);
    else list.push(value);
  }
  return out;
}

function decodedKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

/** Classifies a WADO-URI request (PS3.18 §9): GET /wado?requestType=WADO&studyUID=…&seriesUID=…&objectUID=…. */
export function classifyWadoUri(method: string, rest: string, query: string): Classification {
  if (rest !== '') return refuse(404, 'not-a-dicomweb-route');
  const bad = checkQuery(query);
  if (bad !== undefined) return bad;
  const m = method.toUpperCase();
  if (m !== 'GET' && m !== 'HEAD') return refuse(405, 'method-not-allowed');
  // The PACS reads the query undecoded (Orthanc's WADO-URI does, DESIGN.md): the four parameters the
  // guard decides on must mean the same undecoded, so they are read raw (no %-decoding, no "+").
  const raw = rawParams(query);
  const names = ['requestType', 'studyUID', 'seriesUID', 'objectUID'];
  // A key that only a decoding server would read as one of them is ambiguous: refused.
  for (const key of raw.keys()) if (/[%+]/.test(key) && names.includes(decodedKey(key))) return refuse(400, 'wado-uri-encoded-parameter');
  const [rt, study, series, object] = names.map((k) => raw.get(k) ?? []);
  if (rt?.length !== 1 || rt[0] !== 'WADO') return refuse(400, 'wado-uri-requesttype');
  if (![study, series, object].every((v) => v?.length === 1 && isUid(v[0]))) return refuse(400, 'wado-uri-uids');
  return { ok: true, action: 'retrieve', service: 'wado-uri', ...uids(study?.[0], series?.[0], object?.[0]) };
}
