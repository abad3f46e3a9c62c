// The CLI's own ATNA export: each audit event of an admin command, as a DICOM Security Alert
// (src/atna/admin-messages.ts), to every `audit.syslog` destination of the command's config, through
// the gateway's syslog client (RFC 5425, mutual TLS). The CLI is short-lived, so before it exits it
// waits, at most CLI_ATNA_WAIT_MS for all destinations together, for each receiver to accept the messages.

import { hostname } from 'node:os';
import { pino } from 'pino';
import { adminChangeMessage, type AdminChange } from '../atna/admin-messages.js';
import { auditSourceOf, openSyslogDestination } from '../atna/exporter.js';
import type { AuditSource } from '../atna/messages.js';
import type { SyslogClient } from '../atna/syslog-client.js';
import { syslogFrame } from '../atna/syslog-frame.js';
import type { GatewayConfig } from '../config/types.js';

/**
 * The longest the CLI waits for the receivers before it exits (they are waited for in parallel).
 * A receiver on the hospital network accepts a TLS connection and a few KB in well under a second;
 * 5 s leaves room for a slow handshake and never leaves an admin waiting long when one is down.
 */
export const CLI_ATNA_WAIT_MS = 5000;

/** What happened to one destination. */
export interface Delivery {
  readonly destination: string;
  readonly delivered: boolean;
  readonly reason?: string;
}

interface Destination {
  readonly target: string;
  readonly client?: SyslogClient;
  /** Why there is no client (a file of the entry could not be read). */
  readonly error?: string;
}

export class CliAtna {
  readonly #source: AuditSource;
  readonly #host = hostname();
  readonly #destinations: Destination[];

  constructor(config: GatewayConfig) {
    this.#source = auditSourceOf(config, this.#host);
    // The client's own log lines (connection failures) would repeat the warning this class prints.
    const logger = pino({ level: 'silent' });
    this.#destinations = config.audit.syslog.map((d, index) => {
      const target = `${d.host}:${d.port}`;
      try {
        return { target, client: openSyslogDestination(config, index, { logger, onDrop: () => undefined }) };
      } catch (err) {
        return { target, error: (err as Error).message };
      }
    });
  }

  /** Queues the message of one change for every destination (sent at once, in the background). */
  send(change: AdminChange, at: number): void {
    const frame = syslogFrame(adminChangeMessage(this.#source, change, at), { at, hostname: this.#host, appName: 'pacs-gateway', procId: String(process.pid) });
    for (const d of this.#destinations) d.client?.send(frame);
  }

  /** Waits (bounded) until every receiver has accepted what was sent, closes the connections, and says what happened. */
  async finish(): Promise<Delivery[]> {
    const results = await Promise.all(this.#destinations.map(async (d): Promise<Delivery> => {
      if (d.client === undefined) return { destination: d.target, delivered: false, reason: d.error ?? 'no client' };
      const delivered = await d.client.drain(CLI_ATNA_WAIT_MS);
      const why = d.client.lastError;
      d.client.close();
      return delivered
        ? { destination: d.target, delivered }
        : { destination: d.target, delivered, reason: why === undefined ? `the receiver did not accept the message within ${CLI_ATNA_WAIT_MS / 1000} s` : why };
    }));
    return results;
  }
}
