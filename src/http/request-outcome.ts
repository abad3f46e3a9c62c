// The outcome report of one allowed DICOMweb request: status, bytes, time to the response head, QIDO-RS results.
//
// Made by the guard for an allowed request only when someone listens to the audit trail; the
// exchange feeds it the response head and body bytes; the edge ends it once the request is over.

import { performance } from 'node:perf_hooks';
import type { Audit } from '../audit/audit.js';
import type { HttpOutcome } from '../audit/outcome.js';
import type { Principal } from '../identity/principal.js';
import type { DicomwebRoute } from './classify-dicomweb.js';
import { qidoScanFor, type QidoScan } from './edge/qido-scan.js';
import type { ResponseHead } from './edge/response-head.js';

/** How the exchange ended, as the edge saw it (ExchangeOutcome, without importing the edge). */
export type RequestEnd =
  | { readonly kind: 'done' }
  | { readonly kind: 'broken' }
  | { readonly kind: 'no-response'; readonly timeout: boolean; readonly badRequest: boolean };

export class RequestOutcome {
  readonly #audit: Audit;
  readonly #principal: Principal;
  readonly #route: DicomwebRoute;
  readonly #source: string;
  readonly #httpMethod: string;
  readonly #path: string;
  #sentAt = 0;
  #seconds: number | undefined;
  #status = 0;
  #bytes = 0;
  #scan: QidoScan | undefined;
  #ended = false;

  constructor(audit: Audit, principal: Principal, route: DicomwebRoute, source: string, httpMethod: string, path: string) {
    this.#audit = audit;
    this.#principal = principal;
    this.#route = route;
    this.#source = source;
    this.#httpMethod = httpMethod;
    this.#path = path;
  }

  /** The request head went to the PACS (again, on a retry). */
  sent(): void {
    this.#sentAt = performance.now();
    this.#status = 0;
    this.#bytes = 0;
    this.#scan = undefined;
  }

  /** The PACS's final response head. */
  head(res: ResponseHead): void {
    this.#seconds = (performance.now() - this.#sentAt) / 1000;
    this.#status = res.status;
    if (this.#route.service === 'qido-rs' && res.status === 200 && this.#audit.wantsResults) {
      let type: string | undefined;
      for (const [k, v] of res.headers) if (k === 'content-type') type = v;
      // The level searched: the path's last segment (studies, series or instances).
      const p = this.#path;
      const q = p.indexOf('?');
      const end = q < 0 ? p.length : q;
      this.#scan = qidoScanFor(type, p.endsWith('/instances', end) ? 'instance' : p.endsWith('/series', end) ? 'series' : 'study');
    }
  }

  /** Response body bytes on their way to the client. */
  body(chunk: Buffer): void {
    this.#bytes += chunk.length;
    this.#scan?.feed(chunk);
  }

  /** The request is over; reports it once. */
  end(e: RequestEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    const status = e.kind === 'no-response' ? (e.badRequest ? 400 : e.timeout ? 504 : 502) : this.#status;
    const scan = this.#scan;
    scan?.end();
    const p = this.#principal;
    const r = this.#route;
    const o: HttpOutcome = {
      kind: 'http', principal: p.id, role: p.role, method: p.method, principalKind: p.kind, source: this.#source,
      service: r.service, action: r.action, httpMethod: this.#httpMethod, path: this.#path,
      studyUid: r.studyUid, seriesUid: r.seriesUid, instanceUid: r.instanceUid,
      status, bytes: this.#bytes, seconds: this.#seconds, complete: e.kind === 'done',
      // Always present (undefined without a scan): one object shape for every outcome, built as a literal
      // (a spread here made V8 copy the object property by property; docs/benchmarks.md).
      results: scan?.results, patientIds: scan === undefined ? undefined : [...scan.patientIds], unidentified: scan?.unidentified,
    };
    this.#audit.outcome(o);
  }
}
