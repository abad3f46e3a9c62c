// Wires what watches the gateway: alert rules and webhooks, Prometheus metrics and their listener, the ATNA export.

import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AlertEngine } from './alerts/engine.js';
import { WebhookSink } from './alerts/webhook-sink.js';
import { AtnaExporter } from './atna/exporter.js';
import type { Audit } from './audit/audit.js';
import type { GatewayConfig } from './config/types.js';
import { createMetrics } from './metrics/metrics.js';
import { createMetricsServer, type MetricsServer } from './metrics/metrics-server.js';
import type { StateStore } from './state/store.js';
import type { ExpiryItem } from './tls/expiry.js';
import type { Clock } from './util/clock.js';

export interface MonitoringDeps {
  readonly config: GatewayConfig;
  readonly audit: Audit;
  readonly store: StateStore;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly associationsOpen: () => number;
  readonly expiryItems: () => readonly ExpiryItem[];
  readonly timing?: { readonly alertFlushMs?: number; readonly webhookRetryBaseMs?: number; readonly syslogConfirmMs?: number; readonly syslogRetryBaseMs?: number } | undefined;
}

export interface Monitoring {
  readonly engine: AlertEngine;
  /** Opens the metrics listener (listen.metrics); undefined when it is disabled. */
  listen(): Promise<AddressInfo | undefined>;
  stop(): Promise<void>;
}

/** Starts listening to the audit trail. Nothing here is on the request path: listeners count and queue. */
export function startMonitoring(d: MonitoringDeps): Monitoring {
  const { config, audit, logger } = d;
  const t = d.timing ?? {};
  const engine = new AlertEngine({ audit, store: d.store, alerts: config.alerts, logger, clock: d.clock, ...(t.alertFlushMs === undefined ? {} : { flushMs: t.alertFlushMs }) });
  const webhooks = config.alerts.webhooks.map((w, i) => new WebhookSink(w, i, { audit, logger, ...(t.webhookRetryBaseMs === undefined ? {} : { retryBaseMs: t.webhookRetryBaseMs }) }));
  const atna = new AtnaExporter({
    config, audit, logger, clock: d.clock,
    ...(t.syslogConfirmMs === undefined ? {} : { confirmMs: t.syslogConfirmMs }),
    ...(t.syslogRetryBaseMs === undefined ? {} : { retryBaseMs: t.syslogRetryBaseMs }),
  });
  const metrics = config.listen.metrics.enabled ? createMetrics({
    audit, clock: d.clock, associationsOpen: d.associationsOpen, storeUp: () => d.store.isAvailable(), expiryItems: d.expiryItems,
    sessionIdleMs: config.session.idleMinutes * 60_000,
    sinks: () => [...webhooks.map((w, index) => ({ sink: 'webhook' as const, index, ...w.stats })), ...atna.stats()],
    rulesDropped: () => engine.dropped,
  }) : undefined;
  engine.start();
  for (const w of webhooks) w.start();
  atna.start();
  let server: MetricsServer | undefined;
  return {
    engine,
    async listen() {
      if (metrics === undefined) return undefined;
      server = createMetricsServer(metrics.registry, logger.child({ component: 'metrics' }));
      const address = await server.listen(config.listen.metrics.host, config.listen.metrics.port);
      logger.info({ address: address.address, port: address.port, path: '/metrics' }, 'metrics listener started');
      return address;
    },
    async stop() {
      await engine.stop();
      await atna.stop();
      for (const w of webhooks) w.close();
      metrics?.stop();
      await server?.close();
    },
  };
}
