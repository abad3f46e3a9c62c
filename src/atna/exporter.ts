// The ATNA audit export: DICOM audit messages for the gateway's audit trail, to every audit.syslog destination.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Audit } from '../audit/audit.js';
import { configPath } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import type { SinkStats } from '../metrics/metrics.js';
import { applicationActivity, dimseMessages, httpMessage, refusedQuery, relayExport, securityAlert, userAuthentication, type AuditSource } from './messages.js';
import { DEFAULT_SYSLOG_QUEUE, SyslogClient, type SyslogClientOptions } from './syslog-client.js';
import { syslogFrame } from './syslog-frame.js';

/** A `sink.dropping` alert at most this often per destination. */
const DROP_ALERT_INTERVAL_MS = 60_000;
/** How long stop() waits for the queues to empty. */
const STOP_DRAIN_MS = 3000;

function readPem(c: GatewayConfig, index: number, field: string, file: string): Buffer {
  try {
    return readFileSync(configPath(c, file));
  } catch (err) {
    throw new GatewayError('ERR_CERT_INVALID', `audit.syslog.${index}.${field}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Who the gateway (or its CLI) is in its audit messages: audit.sourceId, the host, the PACS as the other party. */
export function auditSourceOf(c: GatewayConfig, host: string = hostname()): AuditSource {
  const web = new URL(c.upstream.dicomweb);
  return {
    id: c.audit.sourceId ?? host, enterpriseSiteId: c.audit.enterpriseSiteId, hostname: host, pid: process.pid,
    pacsAeTitle: c.upstream.dicom.aeTitle, pacsHost: c.upstream.dicom.host, pacsDicomweb: `${web.origin}${web.pathname}`,
  };
}

/** The client of destination `audit.syslog[index]`: its files read now (ERR_CERT_INVALID when one cannot be). */
export function openSyslogDestination(c: GatewayConfig, index: number, o: Pick<SyslogClientOptions, 'logger' | 'onDrop' | 'confirmMs' | 'retryBaseMs'>): SyslogClient {
  const d = c.audit.syslog[index];
  if (d === undefined) throw new RangeError(`no audit.syslog.${index}`);
  return new SyslogClient({
    host: d.host, port: d.port, queueSize: d.queueSize ?? DEFAULT_SYSLOG_QUEUE,
    tls: { ca: readPem(c, index, 'ca', d.ca), cert: readPem(c, index, 'cert', d.cert), key: readPem(c, index, 'key', d.key), servername: d.servername ?? d.host },
    ...o,
  });
}

export interface AtnaExporterOptions {
  readonly config: GatewayConfig;
  readonly audit: Audit;
  readonly logger: Logger;
  readonly clock: () => number;
  /** See SyslogClientOptions (tests shorten them). */
  readonly confirmMs?: number;
  readonly retryBaseMs?: number;
}

export class AtnaExporter {
  readonly #o: AtnaExporterOptions;
  readonly #source: AuditSource;
  readonly #clients: SyslogClient[];
  readonly #host = hostname();
  #unsubscribe: (() => void) | undefined;

  constructor(o: AtnaExporterOptions) {
    this.#o = o;
    const c = o.config;
    this.#source = auditSourceOf(c, this.#host);
    const log = o.logger.child({ component: 'atna' });
    this.#clients = c.audit.syslog.map((d, index) => {
      let lastAlert = Number.NEGATIVE_INFINITY;
      const client: SyslogClient = openSyslogDestination(c, index, {
        logger: log,
        ...(o.confirmMs === undefined ? {} : { confirmMs: o.confirmMs }),
        ...(o.retryBaseMs === undefined ? {} : { retryBaseMs: o.retryBaseMs }),
        onDrop: (_n, why) => {
          const now = Date.now();
          if (now - lastAlert < DROP_ALERT_INTERVAL_MS) return;
          lastAlert = now;
          o.audit.alert('sink.dropping', { sink: 'syslog', destination: index, target: `${d.host}:${d.port}`, reason: why, droppedTotal: client.stats.dropped });
        },
      });
      return client;
    });
  }

  get enabled(): boolean { return this.#clients.length > 0; }

  stats(): SinkStats[] {
    return this.#clients.map((c, index) => ({ sink: 'syslog', index, ...c.stats }));
  }

  /** Starts listening to the audit trail and sends Application Start. */
  start(): void {
    if (!this.enabled || this.#unsubscribe !== undefined) return;
    const src = this.#source;
    this.#unsubscribe = this.#o.audit.subscribe({
      event: (e, at) => {
        const xml = userAuthentication(src, e, at) ?? refusedQuery(src, e, at) ?? relayExport(src, e, at);
        if (xml !== undefined) this.#send(xml, at);
      },
      outcome: (o, at) => {
        if (o.kind === 'dicom') for (const xml of dimseMessages(src, o, at)) this.#send(xml, at);
        else if (o.kind === 'http') {
          const xml = httpMessage(src, o, at);
          if (xml !== undefined) this.#send(xml, at);
        }
      },
      alert: (name, detail, at) => { this.#send(securityAlert(src, name, detail, at), at); },
    });
    const now = this.#o.clock();
    this.#send(applicationActivity(src, true, now), now);
  }

  /** Sends Application Stop, waits a moment for the queues to empty, and closes the connections. */
  async stop(): Promise<void> {
    if (this.#unsubscribe === undefined) return;
    this.#unsubscribe();
    this.#unsubscribe = undefined;
    const now = this.#o.clock();
    this.#send(applicationActivity(this.#source, false, now), now);
    const drained = await Promise.all(this.#clients.map((c) => c.drain(STOP_DRAIN_MS)));
    if (drained.includes(false)) this.#o.logger.warn({ component: 'atna', queued: this.#clients.map((c) => c.stats.queued) }, 'ATNA messages still queued at stop are lost');
    for (const c of this.#clients) c.close();
  }

  #send(xml: string, at: number): void {
    const frame = syslogFrame(xml, { at, hostname: this.#host, appName: 'pacs-gateway', procId: String(process.pid) });
    for (const c of this.#clients) c.send(frame);
  }
}
