// The scanner's vocabulary: services, verdicts, one result per open (or closed) port, the report.

/** What answers on a port, as the JSON and SARIF outputs name it. */
export type Service = 'dicom' | 'dicom-tls' | 'http' | 'https';

/**
 * `exposed`: answers a PACS function without any credentials. `protected`: answers, but refuses
 * until authenticated (client certificate, User Identity, HTTP authentication). `closed`: nothing
 * accepts a connection. `unknown`: something answers but the scanner cannot tell (evidence says why).
 */
export type Verdict = 'exposed' | 'protected' | 'closed' | 'unknown';

/** One scanned host:port. `evidence` holds the facts the verdict rests on, in the order found. */
export interface ServiceResult {
  readonly host: string;
  readonly port: number;
  readonly service: Service;
  readonly verdict: Verdict;
  readonly evidence: readonly string[];
}

export interface ScanReport {
  /** ISO 8601 time the scan started. */
  readonly scannedAt: string;
  readonly results: readonly ServiceResult[];
  readonly summary: Readonly<Record<Verdict, number>>;
}

/** The calling AE title of every association the scanner proposes, so a PACS log names it. */
export const SCANNER_AE = 'PGW-SCAN';

/** Called AE titles tried, in order, after any `--aet` values (PS3.8 §9.3.2: the called AE). */
export const DEFAULT_CALLED_AETS = Object.freeze(['ANY-SCP', 'ORTHANC', 'DCM4CHEE'] as const);

/** Ports scanned when `--ports` is not given: DICOM (104, 4242, 11112), DICOM TLS (2761, 2762), HTTP(S). */
export const DEFAULT_PORTS = Object.freeze([104, 2761, 2762, 4242, 11112, 80, 443, 8042, 8080, 8443] as const);

/** Counts per verdict. */
export function summarize(results: readonly ServiceResult[]): Record<Verdict, number> {
  const s: Record<Verdict, number> = { exposed: 0, protected: 0, closed: 0, unknown: 0 };
  for (const r of results) s[r.verdict]++;
  return s;
}
