// The audit trail of admin commands that change who can sign in (`users invite`, `reset-totp --invite`):
// the gateway's own audit line (src/audit/audit.ts, JSON, `channel: audit`), written to stderr so that
// stdout stays the command's answer (`--json` prints one object). Never the invite token or link.

import { userInfo } from 'node:os';
import { pino } from 'pino';
import { Audit, type AuditEvent } from '../audit/audit.js';
import { createLogger } from '../audit/logger.js';

/** The operating-system account that ran the command, when it has a name (a container's uid may not). */
function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

let audit: Audit | undefined;

/** Records `e` as done by the CLI (`source: cli`, the command, the OS user), synchronously before the command exits. */
export function cliAudit(e: AuditEvent & { readonly command: string }): void {
  audit ??= new Audit(createLogger({ destination: pino.destination({ fd: 2, sync: true }) }));
  const by = osUser();
  audit.record({ ...e, source: 'cli', ...(by === undefined ? {} : { osUser: by }) });
}
