// Builds the ioredis client (standalone, Sentinel or Cluster) from the gateway's state.redis options.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type RedisOptions as IoRedisOptions } from 'ioredis';
import type { RedisOptions } from '../config/types.js';
import { GatewayError } from '../errors.js';

/** Either kind of ioredis client; both are EventEmitters with `status`, commands and `duplicate()`. */
export type RedisClient = Redis | Cluster;

export interface ConnectSettings {
  /** Directory relative TLS file paths are resolved against (the config file's directory). */
  readonly baseDir: string;
  /** Cap of the reconnect back-off, in ms. */
  readonly maxRetryDelayMs: number;
}

/**
 * Reconnect back-off: 50 ms doubling up to `maxMs`, plus up to 10 % jitter so that replicas
 * do not reconnect in lock-step. Always a number, so ioredis never gives up.
 */
export function backoff(maxMs: number): (attempt: number) => number {
  return (attempt) => {
    const base = Math.min(50 * 2 ** Math.min(Math.max(attempt - 1, 0), 16), maxMs);
    return Math.min(maxMs, base + Math.floor(Math.random() * base * 0.1));
  };
}

function readTlsFile(field: string, path: string, baseDir: string): Buffer {
  const full = resolve(baseDir, path);
  try {
    return readFileSync(full);
  } catch (err) {
    throw new GatewayError('ERR_CERT_INVALID', `state.redis.tls.${field}: cannot read ${full}: ${(err as Error).message}`, { cause: err });
  }
}

/** Node TLS options with the CA, client certificate and key read from their files now. */
export function tlsOptions(tls: RedisOptions['tls'], baseDir: string): ConnectionOptions | undefined {
  if (tls === undefined) return undefined;
  const out: ConnectionOptions = {};
  if (tls.ca !== undefined) out.ca = readTlsFile('ca', tls.ca, baseDir);
  if (tls.cert !== undefined) out.cert = readTlsFile('cert', tls.cert, baseDir);
  if (tls.key !== undefined) out.key = readTlsFile('key', tls.key, baseDir);
  if (tls.servername !== undefined) out.servername = tls.servername;
  return out;
}

/** Every string that must never reach a log line or an error message: the password, also as written in the URL. */
export function secretsOf(options: RedisOptions): string[] {
  const secrets = new Set<string>();
  if (options.password !== undefined && options.password !== '') secrets.add(options.password);
  if (options.url !== undefined) {
    try {
      const raw = new URL(options.url).password;
      if (raw !== '') {
        secrets.add(raw);
        secrets.add(decodeURIComponent(raw));
      }
    } catch {
      // an unparsable URL is refused by ioredis itself; nothing to add
    }
  }
  return [...secrets].sort((a, b) => b.length - a.length); // longest first, so no partial leftovers
}

/** Where the store connects, for logs: never includes credentials. */
export function describeTarget(options: RedisOptions): string {
  if (options.cluster !== undefined) return `cluster ${options.cluster.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (options.sentinels !== undefined) return `sentinel ${options.sentinelName ?? '?'} via ${options.sentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (options.url !== undefined) {
    try {
      const u = new URL(options.url);
      return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
    } catch {
      return 'redis (unparsable url)';
    }
  }
  return `${options.tls === undefined ? 'redis' : 'rediss'}://${options.host}:${options.port}/${options.db}`;
}

/**
 * Opens the client. Choice: `cluster` > `sentinels` > `url` > `host`/`port`. Commands fail fast
 * while disconnected (no offline queue, no retry of in-flight commands: an INCR must not be
 * counted twice) and the client reconnects forever with a capped back-off.
 */
export function connectRedis(options: RedisOptions, settings: ConnectSettings): RedisClient {
  const tls = tlsOptions(options.tls, settings.baseDir);
  const retryStrategy = backoff(settings.maxRetryDelayMs);
  const perNode: IoRedisOptions = {
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(tls === undefined ? {} : { tls }),
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    keepAlive: 10_000,
    connectionName: 'pacs-gateway',
    retryStrategy,
  };
  if (options.cluster !== undefined) {
    return new Cluster(options.cluster.map((n) => ({ host: n.host, port: n.port })), {
      redisOptions: perNode,
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
    });
  }
  if (options.sentinels !== undefined) {
    return new Redis({
      ...perNode,
      db: options.db,
      sentinels: options.sentinels.map((n) => ({ host: n.host, port: n.port })),
      name: options.sentinelName ?? 'mymaster',
      sentinelRetryStrategy: retryStrategy,
      // With TLS configured, Sentinels are reached over TLS too (they hand out the master's address).
      enableTLSForSentinelMode: tls !== undefined,
    });
  }
  if (options.url !== undefined) return new Redis(options.url, { db: options.db, ...perNode });
  return new Redis({ ...perNode, host: options.host, port: options.port, db: options.db });
}

/**
 * A copy of an ioredis error that is safe to log or attach as `cause`: name, code and message
 * with every secret cut out. The original must not travel on: ioredis attaches
 * `command.args` to reply errors, and for a failed `HELLO 3 AUTH user password` that is the
 * password in clear (and for other commands, the stored values).
 */
export function redactError(err: unknown, secrets: readonly string[]): Error {
  const src = err instanceof Error ? err : new Error(String(err));
  let message = src.message;
  for (const s of secrets) message = message.split(s).join('[redacted]');
  const safe = new Error(message);
  safe.name = src.name;
  const code = (src as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(safe, { code });
  return safe;
}

/** Resolves on the client's first `ready`, or when its first attempt fails, or after `ms`. */
export function firstOutcome(client: RedisClient, ms: number): Promise<void> {
  const events = ['ready', 'close', 'end', 'error'];
  return new Promise((done) => {
    const finish = (): void => {
      clearTimeout(timer);
      for (const ev of events) client.off(ev, finish);
      done();
    };
    const timer = setTimeout(finish, ms);
    timer.unref();
    for (const ev of events) client.once(ev, finish);
  });
}

/** QUIT when connected (waits for pending replies, at most `timeoutMs`); then drop the connection for good. */
export async function quitClient(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((done) => { timer = setTimeout(done, timeoutMs); });
    await Promise.race([client.quit().then(() => undefined, () => undefined), timeout]);
    clearTimeout(timer);
  }
  client.disconnect();
}
