// Port lists (--ports) and what each well-known port is expected to speak, which orders the probes.

import { GatewayError } from '../errors.js';
import type { Service } from './types.js';

/** A probe step: a TLS handshake, a plain A-ASSOCIATE-RQ, or a plain HTTP request. */
export type ProbeStep = 'tls' | 'dicom' | 'http';

/** What a port usually carries (IANA registrations and product defaults). */
interface PortHint {
  readonly plan: readonly ProbeStep[];
  /** The service named when nothing answers well enough to tell. */
  readonly service: Service;
}

const DICOM_FIRST: PortHint = { plan: ['dicom', 'tls', 'http'], service: 'dicom' };
const DICOM_TLS: PortHint = { plan: ['tls', 'dicom', 'http'], service: 'dicom-tls' };
const HTTP_FIRST: PortHint = { plan: ['http', 'tls', 'dicom'], service: 'http' };
const HTTPS: PortHint = { plan: ['tls', 'http', 'dicom'], service: 'https' };
/** Any other port: TLS first (a ClientHello is answered or refused at once), then DICOM, then HTTP. */
const OTHER: PortHint = { plan: ['tls', 'dicom', 'http'], service: 'dicom' };

const HINTS: ReadonlyMap<number, PortHint> = new Map([
  [104, DICOM_FIRST], [4242, DICOM_FIRST], [11112, DICOM_FIRST],
  // 2761 dicom-iscl and 2762 dicom-tls (IANA).
  [2761, DICOM_TLS], [2762, DICOM_TLS],
  [80, HTTP_FIRST], [8042, HTTP_FIRST], [8080, HTTP_FIRST],
  [443, HTTPS], [8443, HTTPS],
]);

export function portHint(port: number): PortHint {
  return HINTS.get(port) ?? OTHER;
}

/** Parses `104,4242,8000-8010`; throws ERR_USAGE naming the bad part. At most 1,024 ports. */
export function parsePorts(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(part);
    const lo = Number(m?.[1]);
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (m === null || lo < 1 || hi > 65_535 || hi < lo) {
      throw new GatewayError('ERR_USAGE', `--ports: "${part}" is not a port (1–65535) or a range such as 8000-8010`);
    }
    for (let p = lo; p <= hi; p++) out.add(p);
  }
  if (out.size > 1024) throw new GatewayError('ERR_USAGE', `--ports lists ${out.size} ports; at most 1024`);
  return [...out];
}
