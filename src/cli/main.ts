// The pacs-gateway command line: a thin shell over the library (run, check-config, users, certs).

import { readFileSync } from 'node:fs';
import { GatewayError } from '../errors.js';
import { CERTS_USAGE, certsCommand } from './certs-command.js';
import { checkConfigCommand } from './check-config-command.js';
import { runCommand } from './run-command.js';
import { USERS_USAGE, usersCommand } from './users-command.js';

export const USAGE = `Usage: pacs-gateway <command> [options]

Commands:
  run [--config FILE]            start the gateway (SIGHUP reloads roles, users, devices, certificates)
  check-config [--config FILE]   validate the configuration and the files it names; exit 1 on errors
  users …                        manage users (add, list, disable, enable, reset-totp); see "users --help"
  certs …                        the device CA (init, issue-server, issue-client, list, revoke, renew); see "certs --help"
  version                        print the version

Without --config: $PACS_GATEWAY_CONFIG, else config/gateway.yaml, else config/gateway.example.yaml
(development defaults: memory store, generated certificates, PACS on 127.0.0.1).`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI; resolves with the exit code. Errors are printed as one clear message, never a stack. */
export async function main(argv: string[]): Promise<number> {
  const out = (s: string): void => { process.stdout.write(`${s}\n`); };
  const err = (s: string): void => { process.stderr.write(`${s}\n`); };
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': return await runCommand(rest, err);
      case 'check-config': return await checkConfigCommand(rest, out, err);
      case 'users': return await usersCommand(rest, out);
      case 'certs': return await certsCommand(rest, out, err);
      case 'version': case '--version': out(version()); return 0;
      case undefined: case 'help': case '--help': case '-h': out(USAGE); return command === undefined ? 2 : 0;
      default: err(`unknown command "${command}"\n\n${USAGE}`); return 2;
    }
  } catch (e) {
    if (e instanceof GatewayError) {
      err(`error (${e.code}): ${e.message}`);
      return e.code === 'ERR_USAGE' ? 2 : 1;
    }
    const code = (e as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      err(`${(e as Error).message}\n\n${command === 'users' ? USERS_USAGE : command === 'certs' ? CERTS_USAGE : USAGE}`);
      return 2;
    }
    err(`error: ${(e as Error).message}`);
    return 1;
  }
}
