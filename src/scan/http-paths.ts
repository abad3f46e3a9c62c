// The HTTP paths the probe asks for, and how a 2xx answer proves that a PACS function answers
// without authentication. Bodies are read only to recognise the product and to count; nothing is kept.

import { peerText } from './peer-text.js';

/** What a 2xx answer to a path shows. */
export type PathSignal =
  /** A PACS function answered without authentication: the evidence line. */
  | { readonly kind: 'exposed'; readonly what: string }
  /** The product is there, but this answer alone proves no access (e.g. a UI shell that logs in by script). */
  | { readonly kind: 'present'; readonly what: string }
  | undefined;

export interface PathProbe {
  readonly path: string;
  readonly accept: string;
  /** For a 2xx answer: what it shows, or undefined when the body is not what this product sends. */
  readonly match: (body: Buffer, contentType: string) => PathSignal;
}

function json(body: Buffer): unknown {
  try { return JSON.parse(body.toString('utf8')); } catch { return undefined; }
}

function html(body: Buffer, contentType: string): string | undefined {
  return /html/i.test(contentType) ? body.toString('utf8') : undefined;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** A QIDO-RS answer: a JSON array (PS3.18 §10.6.3); only its length is used. */
export function qido(label: string) {
  return (body: Buffer): PathSignal => {
    if (body.length === 0) return { kind: 'exposed', what: `${label} answered without authentication (no studies)` };
    const v = json(body);
    return Array.isArray(v) ? { kind: 'exposed', what: `${label} answered without authentication (${plural(v.length, 'study', 'studies')} returned; counted only)` } : undefined;
  };
}

export const HTTP_PATHS: readonly PathProbe[] = Object.freeze([
  {
    path: '/system', accept: 'application/json',
    match: (body) => {
      // Orthanc's /system: {"DicomAet": "ORTHANC", "Version": "1.10.1", …}, both strings.
      const v = json(body) as { DicomAet?: unknown; Version?: unknown } | undefined;
      if (v === undefined || v === null || typeof v !== 'object' || typeof v.DicomAet !== 'string') return undefined;
      const version = typeof v.Version === 'string' ? peerText(v.Version) : 'version not given';
      return { kind: 'exposed', what: `Orthanc REST API answered without authentication (Orthanc ${version}, AE ${peerText(v.DicomAet)})` };
    },
  },
  {
    path: '/app/explorer.html', accept: 'text/html',
    match: (body, ct) => (html(body, ct)?.includes('Orthanc Explorer') === true ? { kind: 'exposed', what: 'Orthanc Explorer (web UI) served without authentication' } : undefined),
  },
  {
    path: '/ui/app/', accept: 'text/html',
    // The authorization plugin leaves /ui/app/ unchecked (the page runs the login): the page alone proves no access.
    match: (body, ct) => (/orthanc/i.test(html(body, ct) ?? '') ? { kind: 'present', what: 'Orthanc Explorer 2 (web UI) served (whether its API asks for a login is shown by /system)' } : undefined),
  },
  { path: '/dicom-web/studies?limit=1', accept: 'application/dicom+json', match: qido('DICOMweb QIDO-RS (/dicom-web/studies)') },
  {
    // No UIDs: a WADO-URI endpoint answers this with an error, never with an object.
    path: '/wado?requestType=WADO', accept: 'application/dicom',
    match: () => ({ kind: 'present', what: 'WADO-URI endpoint answered without asking for authentication' }),
  },
  {
    path: '/dcm4chee-arc/aets', accept: 'application/json',
    match: (body) => {
      const v = json(body);
      return Array.isArray(v) ? { kind: 'exposed', what: `dcm4chee-arc REST API answered without authentication (${plural(v.length, 'AE title')} listed)` } : undefined;
    },
  },
  { path: '/dcm4chee-arc/aets/DCM4CHEE/rs/studies?limit=1', accept: 'application/dicom+json', match: qido('dcm4chee-arc QIDO-RS (AE DCM4CHEE)') },
  {
    path: '/dcm4chee-arc/ui2/', accept: 'text/html',
    match: (body, ct) => (/dcm4che/i.test(html(body, ct) ?? '') ? { kind: 'present', what: 'dcm4chee-arc UI served (whether its API asks for a login is shown by /dcm4chee-arc/aets)' } : undefined),
  },
]);

/** The JSON error body pacs-gateway sends (`{statusCode, error: "ERR_…", message}`), or undefined. */
export function gatewayErrorCode(body: Buffer): string | undefined {
  const v = json(body) as { statusCode?: unknown; error?: unknown } | undefined;
  if (v === undefined || v === null || typeof v !== 'object') return undefined;
  return typeof v.statusCode === 'number' && typeof v.error === 'string' && /^ERR_[A-Z_]{1,60}$/.test(v.error) ? v.error : undefined;
}
