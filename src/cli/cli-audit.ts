// The audit trail of admin commands that change who can get in (`users …`, `certs …` that change
// something): the gateway's own audit line (src/audit/audit.ts, JSON, `channel: audit`), written to
// stderr so that stdout stays the command's answer (`--json` prints one object). Never a password, a
// TOTP secret, an invite token or link, a private key or a PKCS#12 password.
//
// When the command's config has `audit.syslog` destinations, each event also goes to them as a DICOM
// Security Alert (src/cli/cli-atna.ts), and its JSON line waits until the command ends
// (finishCliAudit): it then says, under `syslog`, whether each destination accepted the message.

import { userInfo } from 'node:os';
import { pino } from 'pino';
import { Audit, type AuditEvent } from '../audit/audit.js';
import { createLogger } from '../audit/logger.js';
import type { GatewayConfig } from '../config/types.js';
import { CliAtna, type Delivery } from './cli-atna.js';

/** The operating-system account that ran the command, when it has a name (a container's uid may not). */
function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

type CliEvent = AuditEvent & { readonly command: string };

let audit: Audit | undefined;
let config: GatewayConfig | undefined;
let atna: CliAtna | undefined;
/** Lines held until the delivery to the ATNA destinations is known. */
const held: Record<string, unknown>[] = [];
let recorded = false;

function write(line: AuditEvent): void {
  audit ??= new Audit(createLogger({ destination: pino.destination({ fd: 2, sync: true }) }));
  audit.record(line);
}

/** The config the command runs with: its `audit.syslog` destinations receive the events from now on. */
export function cliAuditConfig(c: GatewayConfig): void {
  config = c;
}

/** Whether this command has recorded its event (a refusal is recorded once, by whoever refused). */
export function cliAuditRecorded(): boolean {
  return recorded;
}

/**
 * Records `e` as done by the CLI (`source: cli`, the command, the OS user). `outcome` tells the ATNA
 * message whether the change was made (default: allow → done, deny → refused; `users end-sessions`
 * is a deny of the sessions that the admin made happen, so it passes `done`).
 */
export function cliAudit(e: CliEvent, outcome: 'done' | 'refused' = e.decision === 'allow' ? 'done' : 'refused'): void {
  recorded = true;
  const by = osUser();
  const line: CliEvent = { ...e, source: 'cli', ...(by === undefined ? {} : { osUser: by }) };
  if (config === undefined || config.audit.syslog.length === 0) {
    write(line);
    return;
  }
  atna ??= new CliAtna(config);
  atna.send({
    command: e.command, osUser: by, refused: outcome === 'refused', reason: e.reason,
    username: typeof e.principal === 'string' ? e.principal : undefined,
    serials: Array.isArray(e['serials']) ? (e['serials'] as { serial: string; name: string }[]) : undefined,
    device: typeof e['device'] === 'string' ? e['device'] : undefined,
    detail: line,
  }, Date.now());
  held.push(line);
}

/**
 * At the end of a command: waits (bounded) for the ATNA destinations, warns on stderr for each one
 * that did not take the messages (naming it and why: the change stands), then writes the held lines
 * with the result under `syslog`. Returns the deliveries (none without destinations or events).
 */
export async function finishCliAudit(warn: (s: string) => void): Promise<Delivery[]> {
  const a = atna;
  atna = undefined;
  if (a === undefined) return [];
  const results = await a.finish();
  for (const r of results) {
    if (!r.delivered) warn(`warning: the audit message of this command did not reach the ATNA receiver ${r.destination} (audit.syslog): ${r.reason ?? 'unknown'}. The change is made; it is in the JSON audit line on stderr.`);
  }
  for (const line of held.splice(0)) write({ ...(line as CliEvent), syslog: results });
  return results;
}
