// Test helper: a real Debian redis-server on a free loopback port in a temp dir (optionally ACL password and TLS).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisOptions } from '../../src/config/types.js';
import { createCa, issueCertificate } from '../../src/tls/issue.js';
import { freePort } from './ports.js';

export interface StartRedisOptions {
  /** Require this password for an ACL user (the `default` user is switched off). */
  readonly password?: string;
  /** ACL user name; default "gateway". */
  readonly username?: string;
  /** Serve only TLS (with client certificates required) on the port. */
  readonly tls?: boolean;
  /** Keep data across kill/restart: append-only file, fsync on every write (as a production Redis would be set up). */
  readonly persistent?: boolean;
}

export interface RedisTlsFiles {
  /** Directory the file names below are relative to. */
  readonly dir: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The temp directory holding the server's files. */
  readonly dir: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Client certificate, key and CA (file names relative to `dir`) when started with TLS. */
  readonly tls: RedisTlsFiles | undefined;
  /** `state.redis` options reaching this server, with short timeouts for tests. */
  options(overrides?: Partial<RedisOptions>): RedisOptions;
  /** A plain ioredis client for inspecting the server (the caller quits it). */
  client(): Redis;
  /** Stops the server (SIGTERM; nothing is saved). */
  stop(): Promise<void>;
  /** Starts it again on the same port (to test recovery). */
  restart(): Promise<void>;
  /** SIGKILL (a crash): nothing is flushed; with `persistent` what was written is still there after restart(). */
  kill(): Promise<void>;
  /** Freezes (SIGSTOP) / thaws (SIGCONT) the process: a Redis that hangs without closing connections. */
  pause(): void;
  resume(): void;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

function waitForPort(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not listen on ${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

function writeCertificates(dir: string): RedisTlsFiles {
  const ca = createCa({ commonName: 'redis test CA' });
  const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const client = issueCertificate(ca, { commonName: 'gateway', usage: 'client' });
  const files: Record<string, string> = {
    'ca.pem': ca.certPem, 'server.pem': server.certPem, 'server.key': server.keyPem,
    'client.pem': client.certPem, 'client.key': client.keyPem,
  };
  for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, name), pem, { mode: 0o600 });
  return { dir, ca: 'ca.pem', cert: 'client.pem', key: 'client.key' };
}

/** Starts `redis-server` (Debian package) for one test file; call destroy() in teardown. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-redis-'));
  const tls = options.tls === true ? writeCertificates(dir) : undefined;
  const username = options.password === undefined ? undefined : options.username ?? 'gateway';
  let port = 0;
  let child: ChildProcess | undefined;
  let stderr = '';

  const args = (): string[] => [
    ...(tls === undefined
      ? ['--port', String(port)]
      : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', 'server.pem', '--tls-key-file', 'server.key',
          '--tls-ca-cert-file', 'ca.pem', '--tls-auth-clients', 'yes']),
    '--bind', '127.0.0.1', '--save', '', ...(options.persistent === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
    ...(username === undefined || options.password === undefined
      ? []
      : ['--user', 'default', 'off', '--user', username, 'on', `>${options.password}`, '~*', '&*', '+@all']),
  ];

  const launch = async (): Promise<void> => {
    const proc = spawn('redis-server', args(), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${stderr}`))));
    exited.catch(() => undefined);
    await Promise.race([waitForPort(port, Date.now() + 5000), exited]);
  };

  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      child?.kill('SIGKILL');
      if (attempt >= 3) throw err; // the port was taken between freePort() and bind: try another
    }
  }

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
  };

  return {
    host: '127.0.0.1',
    get port() { return port; },
    dir,
    username,
    password: options.password,
    tls,
    options: (overrides = {}) => ({
      host: '127.0.0.1', port, db: 0, connectTimeoutMs: 500, commandTimeoutMs: 500,
      ...(username === undefined ? {} : { username, password: options.password }),
      ...(tls === undefined ? {} : { tls: { ca: join(dir, tls.ca), cert: join(dir, tls.cert), key: join(dir, tls.key) } }),
      ...overrides,
    }),
    client: () => new Redis({
      host: '127.0.0.1', port, maxRetriesPerRequest: 1,
      ...(username === undefined ? {} : { username, password: options.password }),
      ...(tls === undefined ? {} : {
        tls: { ca: [readPem(dir, tls.ca)], cert: readPem(dir, tls.cert), key: readPem(dir, tls.key) },
      }),
    }),
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    kill: async () => {
      const proc = child;
      child = undefined;
      if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGKILL');
      await gone;
    },
    pause: () => { child?.kill('SIGSTOP'); },
    resume: () => { child?.kill('SIGCONT'); },
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readPem(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}

/** A process started in `dir` that is stopped by `stop()`. */
async function spawnServer(args: readonly string[], dir: string, port: number): Promise<() => Promise<void>> {
  const proc = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${stderr}`))));
  exited.catch(() => undefined);
  await Promise.race([waitForPort(port, Date.now() + 5000), exited]);
  return async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await gone;
  };
}

const BASE_ARGS = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];

export interface RedisCluster {
  readonly nodes: readonly { host: string; port: number }[];
  /** `state.redis` options with `cluster` set to the nodes. */
  options(overrides?: Partial<RedisOptions>): RedisOptions;
  destroy(): Promise<void>;
}

/** A three-master Redis Cluster (no replicas) made with `redis-cli --cluster create`. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-redis-cluster-'));
  const stops: (() => Promise<void>)[] = [];
  const nodes: { host: string; port: number }[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.all(stops.map((s) => s()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      stops.push(await spawnServer(['--port', String(port), ...BASE_ARGS, '--dir', nodeDir, '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'], nodeDir, port));
      nodes.push({ host: '127.0.0.1', port });
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    for (const n of nodes) {
      const c = new Redis({ host: n.host, port: n.port });
      try {
        for (let i = 0; ; i++) {
          const info = String(await c.cluster('INFO'));
          if (info.includes('cluster_state:ok')) break;
          if (i > 100) throw new Error(`cluster node ${n.port} not ok: ${info}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        c.disconnect();
      }
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    nodes,
    options: (overrides = {}) => ({ host: '127.0.0.1', port: 6379, db: 0, connectTimeoutMs: 500, commandTimeoutMs: 500, cluster: nodes, ...overrides }),
    destroy,
  };
}

export interface RedisSentinel {
  readonly master: { host: string; port: number };
  readonly sentinel: { host: string; port: number };
  readonly name: string;
  options(overrides?: Partial<RedisOptions>): RedisOptions;
  destroy(): Promise<void>;
}

/** One master and one Sentinel watching it (quorum 1): enough to connect through Sentinel. */
export async function startRedisSentinel(): Promise<RedisSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-redis-sentinel-'));
  const stops: (() => Promise<void>)[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.all(stops.map((s) => s()));
    rmSync(dir, { recursive: true, force: true });
  };
  const name = 'pgwmaster';
  try {
    const masterPort = await freePort();
    stops.push(await spawnServer(['--port', String(masterPort), ...BASE_ARGS, '--dir', dir], dir, masterPort));
    const sentinelPort = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${masterPort} 1\n`);
    stops.push(await spawnServer([conf, '--sentinel'], dir, sentinelPort));
    return {
      master: { host: '127.0.0.1', port: masterPort },
      sentinel: { host: '127.0.0.1', port: sentinelPort },
      name,
      options: (overrides = {}) => ({
        host: '127.0.0.1', port: 6379, db: 0, connectTimeoutMs: 500, commandTimeoutMs: 500,
        sentinels: [{ host: '127.0.0.1', port: sentinelPort }], sentinelName: name, ...overrides,
      }),
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}

function run(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}
