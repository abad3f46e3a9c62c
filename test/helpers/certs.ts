// Test helpers for certificates: the `pacs-gateway certs` CLI in a gateway directory, and openssl s_client probes.

import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { run, type RunResult } from './tools.js';

const BIN = join(process.cwd(), 'bin/pacs-gateway.js');

/** Runs `pacs-gateway certs …` (the built CLI) in `dir` with `--config gateway.yaml`. */
export function certsCli(dir: string, args: readonly string[], input?: string): Promise<RunResult> {
  return run(process.execPath, [BIN, 'certs', ...args, '--config', 'gateway.yaml'], { cwd: dir, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
}

/** Runs a certs command that must succeed; returns its stdout parsed when `--json` was given. */
export async function certsOk(dir: string, args: readonly string[], input?: string): Promise<any> {
  const r = await certsCli(dir, args, input);
  if (r.code !== 0) throw new Error(`certs ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}${r.stdout}`);
  return args.includes('--json') ? JSON.parse(r.stdout) : r.stdout;
}

/** `certs init` and `certs issue-server` for localhost / 127.0.0.1: a `prepare` hook for startGateway. */
export async function prepareCa(dir: string): Promise<void> {
  await certsOk(dir, ['init']);
  await certsOk(dir, ['issue-server', '--dns', 'localhost', '--ip', '127.0.0.1']);
}

export interface IssuedClient {
  readonly name: string;
  readonly serial: string;
  readonly fingerprint: string;
  readonly files: { cert: string; key: string; p12: string };
  readonly pkcs12: { profile: string; password?: string };
}

/** `certs issue-client NAME --role ROLE --ae …` in `dir`. */
export function issueClient(dir: string, name: string, role: string, aeTitles: readonly string[], extra: readonly string[] = []): Promise<IssuedClient> {
  return certsOk(dir, ['issue-client', name, '--role', role, ...aeTitles.flatMap((ae) => ['--ae', ae]), ...extra, '--json']);
}

export interface Probe {
  /** The handshake completed. */
  readonly connected: boolean;
  readonly protocol: string | undefined;
  readonly cipher: string | undefined;
  /** The server certificate served, parsed. */
  readonly serverCert: X509Certificate | undefined;
  readonly output: string;
}

/**
 * `openssl s_client` against 127.0.0.1:port with `args` (e.g. `-tls1_2`, `-cipher …`,
 * `-cert`/`-key`); stdin is closed at once, so it handshakes, prints the session and leaves.
 */
export async function sClient(port: number, args: readonly string[] = []): Promise<Probe> {
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-showcerts', ...args], { input: '', timeoutMs: 20_000 });
  const output = `${r.stdout}\n${r.stderr}`;
  const m = /New, (TLSv[\d.]+|\(NONE\)), Cipher is (\S+)/.exec(output);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  const connected = m !== null && m[2] !== '(NONE)';
  return {
    connected, protocol: connected ? m?.[1] : undefined, cipher: connected ? m?.[2] : undefined,
    serverCert: pem === undefined ? undefined : new X509Certificate(pem), output,
  };
}
