// The gateway's Prometheus metrics (prom-client): counted from audit events, alerts and outcomes; gauges read when scraped.
//
// Labels come from fixed sets (service, action, decision, status code, channel, rule, reason):
// never a UID, username, device name or address, so the number of series stays bounded.

import { Counter, Gauge, Registry } from 'prom-client';
import { registerProcessMetrics } from './process-metrics.js';
import { FastCounter3, FastHistogram2 } from './hot-metrics.js';
import type { AlertName, Audit, AuditEvent } from '../audit/audit.js';
import type { Outcome } from '../audit/outcome.js';
import { traffic } from '../audit/traffic.js';
import type { ExpiryItem } from '../tls/expiry.js';

export const PREFIX = 'pacs_gateway_';

export interface MetricsSources {
  readonly audit: Audit;
  readonly clock: () => number;
  /** Open DIMSE associations (the DIMSE server's count). */
  readonly associationsOpen: () => number;
  readonly storeUp: () => boolean;
  /** Certificates, CAs, CRLs and device certificates that expire (src/tls/expiry.ts). */
  readonly expiryItems: () => readonly ExpiryItem[];
  /** A session is counted active while it made a request within this long. */
  readonly sessionIdleMs: number;
  /** Alert and audit sinks: delivered / dropped counts and queue lengths, read when scraped. */
  readonly sinks: () => readonly SinkStats[];
  /** Events the alert rules could not keep, per rule. */
  readonly rulesDropped: () => ReadonlyMap<string, number>;
}

export interface SinkStats {
  readonly sink: 'webhook' | 'syslog';
  /** The sink's position in its config list (alerts.webhooks / audit.syslog): no URL or host as a label. */
  readonly index: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly queued: number;
}

const EXPIRY_KINDS: Readonly<Record<ExpiryItem['what'], string>> = {
  'server certificate': 'server', 'CA certificate': 'ca', CRL: 'crl', 'device certificate': 'device',
};
const UPSTREAM_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const MAX_TRACKED_SESSIONS = 100_000;

/** Creates the registry and starts counting; `stop()` unsubscribes. */
export function createMetrics(src: MetricsSources): { registry: Registry; stop: () => void } {
  const registry = new Registry();
  const registers = [registry];
  // The process's CPU, memory and event-loop figures, without prom-client's per-GC observer (process-metrics.ts says why).
  const processMetrics = registerProcessMetrics(registry, PREFIX);

  const associations = new Counter({ name: `${PREFIX}associations_total`, help: 'DICOM associations by result (accepted, rejected with A-ASSOCIATE-RJ, closed otherwise) and identity kind', labelNames: ['result', 'kind'], registers });
  const commands = new Counter({ name: `${PREFIX}dimse_commands_total`, help: 'DIMSE requests by action and decision', labelNames: ['action', 'decision'], registers });
  // Counted once per request or command: through hot-metrics.ts (a map lookup, no label hashing).
  const requests = new FastCounter3(registry, `${PREFIX}http_requests_total`, 'DICOMweb / WADO-URI requests by service, decision and status answered', ['service', 'decision', 'status']);
  const upstream = new FastHistogram2(registry, `${PREFIX}upstream_seconds`, 'Time the PACS took to answer: DIMSE request to final response, DICOMweb request to response head', ['channel', 'operation'], UPSTREAM_BUCKETS);
  const tls = new Counter({ name: `${PREFIX}tls_handshakes_total`, help: 'TLS handshakes completed on the listeners; resumed="true": a session ticket was accepted (no certificate exchange, no signature)', labelNames: ['channel', 'resumed'], registers });
  const tlsFailures = new Counter({ name: `${PREFIX}tls_handshake_failures_total`, help: 'TLS handshakes that failed, by reason', labelNames: ['channel', 'reason'], registers });
  const legacyConnections = new Counter({ name: `${PREFIX}legacy_connections_total`, help: 'Connections accepted on the cleartext legacy DICOM port (listen.dicomLegacy), before the address check', registers });
  const logins = new Counter({ name: `${PREFIX}logins_total`, help: 'Password + TOTP logins by result (success, failure, locked) and channel', labelNames: ['result', 'channel'], registers });
  const lockouts = new Counter({ name: `${PREFIX}lockouts_total`, help: 'Lockouts raised, by scope (user, address)', labelNames: ['scope'], registers });
  const alerts = new Counter({ name: `${PREFIX}alerts_total`, help: 'Alerts raised, by rule (anomaly rules) or alert name', labelNames: ['rule'], registers });
  const reloads = new Counter({ name: `${PREFIX}reloads_total`, help: 'Hot reloads by what (config, tls, users, devices) and result (applied, refused)', labelNames: ['what', 'result'], registers });
  new Counter({
    name: `${PREFIX}bytes_total`, help: 'Bytes relayed by channel and direction (DIMSE data fragments; HTTPS bodies)', labelNames: ['channel', 'direction'], registers,
    collect() {
      this.reset();
      this.inc({ channel: 'dicom', direction: 'to_pacs' }, traffic.dicomToPacs);
      this.inc({ channel: 'dicom', direction: 'to_client' }, traffic.dicomToClient);
      this.inc({ channel: 'https', direction: 'to_upstream' }, traffic.httpToUpstream);
      this.inc({ channel: 'https', direction: 'to_client' }, traffic.httpToClient);
    },
  });
  new Gauge({ name: `${PREFIX}associations_open`, help: 'DICOM associations open now', registers, collect() { this.set(src.associationsOpen()); } });
  const sessions = new Map<string, number>();
  new Gauge({
    name: `${PREFIX}sessions_active`, help: 'User sessions that made a request through this replica within session.idleMinutes', registers,
    collect() {
      const since = src.clock() - src.sessionIdleMs;
      for (const [k, t] of sessions) if (t < since) sessions.delete(k);
      this.set(sessions.size);
    },
  });
  new Gauge({ name: `${PREFIX}state_store_up`, help: '1 when the state store answers, 0 when it is unavailable (the gateway fails closed)', registers, collect() { this.set(src.storeUp() ? 1 : 0); } });
  new Gauge({
    name: `${PREFIX}certificate_expiry_seconds`, help: 'Seconds until the soonest expiry, by kind (server certificate, CA, CRL next update, device certificates); negative when expired', labelNames: ['kind'], registers,
    collect() {
      this.reset();
      const soonest = new Map<string, number>();
      for (const i of src.expiryItems()) {
        const kind = EXPIRY_KINDS[i.what];
        const t = i.notAfter.getTime();
        if (!soonest.has(kind) || t < (soonest.get(kind) as number)) soonest.set(kind, t);
      }
      const now = src.clock();
      for (const [kind, t] of soonest) this.set({ kind }, Math.round((t - now) / 1000));
    },
  });
  new Counter({
    name: `${PREFIX}alert_sink_delivered_total`, help: 'Messages delivered by alert webhooks and ATNA syslog destinations', labelNames: ['sink', 'index'], registers,
    collect() { this.reset(); for (const s of src.sinks()) this.inc({ sink: s.sink, index: String(s.index) }, s.delivered); },
  });
  new Counter({
    name: `${PREFIX}alert_sink_dropped_total`, help: 'Messages lost by alert webhooks and ATNA syslog destinations (queue full, receiver gone too long)', labelNames: ['sink', 'index'], registers,
    collect() { this.reset(); for (const s of src.sinks()) this.inc({ sink: s.sink, index: String(s.index) }, s.dropped); },
  });
  new Gauge({
    name: `${PREFIX}alert_sink_queue_length`, help: 'Messages waiting in each alert webhook and ATNA syslog queue', labelNames: ['sink', 'index'], registers,
    collect() { this.reset(); for (const s of src.sinks()) this.set({ sink: s.sink, index: String(s.index) }, s.queued); },
  });
  new Counter({
    name: `${PREFIX}alert_rule_events_dropped_total`, help: 'Events an alert rule could not count (too many pending subjects between flushes)', labelNames: ['rule'], registers,
    collect() { this.reset(); for (const [rule, n] of src.rulesDropped()) this.inc({ rule }, n); },
  });

  // Series that exist from the start at 0, so that increase() in an alert rule sees their first change.
  for (const rule of ['query-sweep', 'bulk-retrieve', 'off-hours', 'new-source', 'refusal-burst', 'password-spray', 'association-flood', 'lockout.user', 'lockout.address', 'sink.dropping', 'dicom.legacy-address-refused', 'dicom.cleartext-credential']) alerts.inc({ rule }, 0);
  for (const scope of ['user', 'address']) lockouts.inc({ scope }, 0);

  const statusText: string[] = [];
  const statusOf = (n: number): string => (statusText[n] ??= String(n));

  const onEvent = (e: AuditEvent, at: number): void => {
    switch (e.event) {
      case 'authz.http':
        // Allowed requests are counted from their outcome, with the PACS's status.
        if (e.decision === 'deny') requests.inc(typeof e['service'] === 'string' ? e['service'] : 'none', 'deny', statusOf(typeof e['status'] === 'number' ? e['status'] : 0));
        else if (e.principal !== undefined && (e.method === 'session-cookie' || e.method === 'bearer-token')) {
          if (sessions.size < MAX_TRACKED_SESSIONS || sessions.has(e.principal)) sessions.set(e.principal, at);
        }
        break;
      case 'dicom.command':
        commands.inc({ action: e.action ?? (e.reason === 'cancel' ? 'cancel' : 'none'), decision: e.decision });
        break;
      case 'dicom.association': {
        if (e['phase'] === 'revalidation') break;
        const result = e.decision === 'allow' ? 'accepted' : e['rejection'] !== undefined ? 'rejected' : 'closed';
        associations.inc({ result, kind: typeof e['kind'] === 'string' ? e['kind'] : 'none' });
        break;
      }
      case 'auth.login': {
        const result = e.decision === 'allow' ? 'success' : e.reason.startsWith('locked-out') ? 'locked' : 'failure';
        logins.inc({ result, channel: e['channel'] === 'dicom' ? 'dicom' : 'https' });
        break;
      }
      case 'auth.logout':
        if (e.principal !== undefined) sessions.delete(e.principal);
        break;
      case 'config.reload':
        reloads.inc({ what: e.reason === 'tls-material-replaced' ? 'tls' : 'config', result: 'applied' });
        break;
      default:
        break;
    }
  };
  const onAlert = (name: AlertName, detail: Readonly<Record<string, unknown>>): void => {
    alerts.inc({ rule: name === 'anomaly' && typeof detail['rule'] === 'string' ? detail['rule'] : name });
    if (name === 'lockout.user') lockouts.inc({ scope: 'user' });
    else if (name === 'lockout.address') lockouts.inc({ scope: 'address' });
    else if (name === 'reload.refused') reloads.inc({ what: typeof detail['what'] === 'string' && ['config', 'tls', 'users', 'devices'].includes(detail['what']) ? detail['what'] : 'other', result: 'refused' });
  };
  const onOutcome = (o: Outcome): void => {
    if (o.kind === 'http') {
      requests.inc(o.service, 'allow', statusOf(o.status));
      if (o.seconds !== undefined) upstream.observe('dicomweb', o.service, o.seconds);
    } else if (o.kind === 'dicom') {
      if (o.seconds !== undefined) upstream.observe('dicom', o.command, o.seconds);
    } else if (o.kind === 'connection') {
      legacyConnections.inc();
    } else if (o.ok) {
      tls.inc({ channel: o.channel, resumed: o.resumed === true ? 'true' : 'false' });
    } else {
      tlsFailures.inc({ channel: o.channel, reason: o.reason ?? 'other' });
    }
  };
  const unsubscribe = src.audit.subscribe({ event: onEvent, alert: onAlert, outcome: onOutcome });
  return { registry, stop: () => { unsubscribe(); processMetrics.stop(); } };
}
