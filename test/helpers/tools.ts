// Test helpers for running external programs (dcmtk, oathtool, …) and polling for a condition.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { connect } from 'node:net';

/** Options for {@link run}. */
export interface RunOptions {
  /** Extra environment variables, merged over `process.env`. `TCP_NODELAY=1` is always set. */
  env?: Record<string, string | undefined>;
  /** Data written to the child's stdin (stdin is closed after it, or at once when absent). */
  input?: string | Buffer;
  /** Kill the child (SIGKILL) after this many milliseconds; default 60 000. */
  timeoutMs?: number;
  /** Working directory of the child. */
  cwd?: string;
}

/** What {@link run} reports about a finished child process. */
export interface RunResult {
  /** Exit code; `null` when the child died from a signal (e.g. killed on timeout). */
  code: number | null;
  /** Signal that ended the child, if any. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the child was killed because `timeoutMs` passed. */
  timedOut: boolean;
  /** Wall-clock time from spawn to exit, in milliseconds. */
  durationMs: number;
}

/**
 * Runs `cmd args…` without a shell and collects its output.
 *
 * Never throws for a non-zero exit, a signal or a timeout: inspect `code`, `signal` and
 * `timedOut`. It rejects only when the program cannot be started at all (e.g. ENOENT).
 * `TCP_NODELAY=1` is put in the child's environment (dcmtk disables Nagle only then).
 */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, TCP_NODELAY: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    // A child that exits before reading its input makes stdin emit EPIPE: not our failure.
    child.stdin.on('error', () => {});
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: Date.now() - started,
      });
    });
    child.stdin.end(options.input);
  });
}

/**
 * The current RFC 6238 TOTP code (6 digits, 30 s, SHA-1) for a base32 `secret`, computed by
 * the independent `oathtool --totp -b SECRET`; `now` asks for the code of another moment
 * (e.g. the previous step). Rejects when oathtool fails.
 */
export async function oathtool(secret: string, options: { now?: Date } = {}): Promise<string> {
  const args = ['--totp', '-b', secret];
  if (options.now !== undefined) args.push('--now', `@${Math.floor(options.now.getTime() / 1000)}`);
  const result = await run('oathtool', args, { timeoutMs: 10_000 });
  const code = result.stdout.trim();
  if (result.code !== 0 || !/^\d{6}$/.test(code)) {
    throw new Error(`oathtool failed (exit ${String(result.code)}): ${result.stderr.trim() || code}`);
  }
  return code;
}

/**
 * Polls `fn` until it returns a value other than `undefined`, `null` or `false` and resolves
 * with that value. Errors thrown by `fn` count as "not yet"; the last one is the `cause` of
 * the timeout error.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) {
        return value as Exclude<T, undefined | null | false>;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`waitFor: condition not met within ${timeoutMs} ms`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A long-running child process started by {@link startProcess}. */
export interface StartedProcess {
  child: ChildProcessWithoutNullStreams;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited by itself or been stopped. */
  exited: Promise<RunResult>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5000); resolves with how it ended. Idempotent. */
  stop(graceMs?: number): Promise<RunResult>;
}

/**
 * Starts a server-like program (storescp, stunnel, redis-server, nginx, …) in the background
 * with `TCP_NODELAY=1` in its environment. Stop it in `t.teardown`. Rejects only when the
 * program cannot be started at all.
 */
export function startProcess(
  cmd: string,
  args: readonly string[],
  options: Omit<RunOptions, 'timeoutMs' | 'input'> = {},
): Promise<StartedProcess> {
  const started = Date.now();
  const child = spawn(cmd, args, {
    cwd: options.cwd,
    env: { ...process.env, TCP_NODELAY: '1', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.on('error', () => {});
  child.stdin.end();
  const stdout = (): string => Buffer.concat(out).toString('utf8');
  const stderr = (): string => Buffer.concat(err).toString('utf8');
  let killedByUs = false;
  const exited = new Promise<RunResult>((resolve) => {
    child.once('close', (code, signal) =>
      resolve({ code, signal, stdout: stdout(), stderr: stderr(), timedOut: killedByUs, durationMs: Date.now() - started }),
    );
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      resolve({
        child,
        stdout,
        stderr,
        exited,
        async stop(graceMs = 5000) {
          if (child.exitCode === null && child.signalCode === null) {
            killedByUs = true;
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            const result = await exited;
            clearTimeout(timer);
            return result;
          }
          return exited;
        },
      });
    });
  });
}

/** Resolves once a TCP connection to `host:port` succeeds (the connection is closed at once). */
export function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<true> {
  return waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, host);
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
    timeoutMs,
  );
}
