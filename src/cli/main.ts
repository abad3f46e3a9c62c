// The pacs-gateway command line: a thin shell over the library (run, check-config, users, certs).

import { GatewayError } from '../errors.js';
import { CERTS_USAGE, certsCommand } from './certs-command.js';
import { checkConfigCommand } from './check-config-command.js';
import { finishCliAudit } from './cli-audit.js';
import { runCommand } from './run-command.js';
import { SCAN_USAGE, scanCommand } from './scan-command.js';
import { USERS_USAGE, usersCommand } from './users-command.js';
import { packageVersion } from './version.js';

export const USAGE = `Usage: pacs-gateway <command> [options]

Commands:
  run [--config FILE]            start the gateway (SIGHUP reloads roles, users, devices, certificates)
  check-config [--config FILE]   validate the configuration and the files it names; exit 1 on errors
  users …                        manage users (add, invite, revoke-invite, list, disable, enable, end-sessions, reset-totp); see "users --help"
  certs …                        the device CA (init, issue-server, issue-client, list, revoke, renew); see "certs --help"
  scan TARGET… [options]         find DICOM and PACS web ports that answer without authentication; see "scan --help"
  version                        print the version

Without --config: $PACS_GATEWAY_CONFIG, else config/gateway.yaml, else config/gateway.example.yaml
(development defaults: memory store, generated certificates, PACS on 127.0.0.1).`;

/** Error codes that are the user's mistake on the command line: exit code 2. */
const USAGE_CODES: ReadonlySet<string> = new Set(['ERR_USAGE', 'ERR_SCAN_TARGET']);

/**
 * Runs the CLI; resolves with the exit code. Errors are printed as one clear message, never a stack.
 * The audit events of a command reach its ATNA receivers before it ends (bounded wait, src/cli/cli-audit.ts);
 * one that could not be delivered is a warning, not an error: the change is made, so the exit code stays the command's.
 */
export async function main(argv: string[]): Promise<number> {
  const err = (s: string): void => { process.stderr.write(`${s}\n`); };
  const code = await dispatch(argv, err);
  await finishCliAudit(err);
  return code;
}

async function dispatch(argv: string[], err: (s: string) => void): Promise<number> {
  const out = (s: string): void => { process.stdout.write(`${s}\n`); };
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': return await runCommand(rest, err);
      case 'check-config': return await checkConfigCommand(rest, out, err);
      case 'users': return await usersCommand(rest, out);
      case 'certs': return await certsCommand(rest, out, err);
      case 'scan': return await scanCommand(rest, out, err);
      case 'version': case '--version': out(packageVersion()); return 0;
      case undefined: case 'help': case '--help': case '-h': out(USAGE); return command === undefined ? 2 : 0;
      default: err(`unknown command "${command}"\n\n${USAGE}`); return 2;
    }
  } catch (e) {
    if (e instanceof GatewayError) {
      err(`error (${e.code}): ${e.message}`);
      return USAGE_CODES.has(e.code) ? 2 : 1;
    }
    const code = (e as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      const usage: Readonly<Record<string, string>> = { users: USERS_USAGE, certs: CERTS_USAGE, scan: SCAN_USAGE };
      err(`${(e as Error).message}\n\n${usage[command ?? ''] ?? USAGE}`);
      return 2;
    }
    err(`error: ${(e as Error).message}`);
    return 1;
  }
}
