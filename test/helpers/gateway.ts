// Test helper: a real gateway (in-process, createGateway) in a temp directory in front of a real Orthanc.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { createLogger } from '../../src/audit/logger.js';
import { openRedisUserDirectory } from '../../src/cli/redis-users.js';
import { buildConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway.js';
import { FileUserDirectory } from '../../src/identity/file-user-directory.js';
import { hashPassword } from '../../src/identity/password.js';
import { generateTotpSecret } from '../../src/identity/totp.js';
import type { UserDirectory } from '../../src/identity/user-directory.js';
import type { OrthancServer } from './orthanc.js';
import type { RedisServer } from './redis.js';
import { oathtool } from './tools.js';

/** A clock the test moves by hand (TOTP windows, lockouts, session expiry) instead of sleeping. */
export interface TestClock {
  (): number;
  advance(ms: number): void;
}

export function testClock(start = Date.now()): TestClock {
  let now = start;
  const clock = (() => now) as TestClock;
  clock.advance = (ms: number) => { now += ms; };
  return clock;
}

export interface TestUser { readonly username: string; readonly password: string; readonly role: string; readonly totpSecret: string }

export interface HttpAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; text: string; json: () => any }

export interface TestGateway {
  readonly gateway: Gateway;
  readonly config: GatewayConfig;
  readonly dir: string;
  readonly configFile: string;
  readonly url: string;
  readonly httpsPort: number;
  readonly dicomPort: number;
  /** The metrics listener's port (listen.metrics, port 0 in tests). */
  readonly metricsPort: number;
  readonly caPem: string;
  readonly clock: TestClock;
  /** Every log line the gateway wrote, parsed. */
  readonly logs: Record<string, any>[];
  /** Every log line the gateway wrote, as written. */
  readonly rawLogs: string[];
  auditEvents(event?: string): Record<string, any>[];
  /** Adds a user as the CLI does; `extra.aeTitles` binds the calling AE titles the user may use over DICOM. */
  addUser(username: string, role: string, password?: string, extra?: { aeTitles?: string[] }): Promise<TestUser>;
  /** A TOTP code for the user at the gateway's (injected) time, from oathtool. */
  code(user: TestUser, offsetMs?: number): Promise<string>;
  /** POST /auth/login with a fresh oathtool code; returns the token. */
  login(user: TestUser): Promise<string>;
  /** An HTTPS request on a new connection; `localAddress` picks the client's address (any 127.x.y.z on Linux loopback). */
  request(method: string, path: string, options?: { headers?: Record<string, string>; body?: string | Buffer; cert?: { cert: string; key: string }; localAddress?: string }): Promise<HttpAnswer>;
  stop(): Promise<void>;
}

export interface TestGatewayOptions {
  readonly orthanc?: Pick<OrthancServer, 'dicomwebUrl' | 'wadoUrl' | 'dicomPort' | 'aeTitle'>;
  /** Extra config merged over the test defaults (plain YAML-shaped object). */
  readonly config?: Record<string, unknown>;
  readonly clock?: TestClock;
  readonly gatewayOptions?: GatewayOptions;
  /** Start the DICOM listener too (default: false, port 0 when true). */
  readonly dicom?: boolean;
  /**
   * Keep state and users in this redis-server instead of memory and a users file:
   * `state.store: redis` with a fresh key prefix, `users.backend: redis`, a random
   * `session.signingKey`. addUser() then writes to Redis, as the CLI does.
   */
  readonly redis?: RedisServer;
  /**
   * Runs after the config file is written and before the gateway starts, in its directory
   * (e.g. `pacs-gateway certs init` + `issue-server` instead of tls.autoGenerate).
   */
  readonly prepare?: (dir: string, configFile: string) => Promise<void>;
}

/** The config a gateway needs to keep its state and users in `server` under a key prefix of its own. */
export function redisStateConfig(server: RedisServer, keyPrefix = `pgw-test-${randomBytes(6).toString('hex')}:`): Record<string, unknown> {
  return {
    state: { store: 'redis', keyPrefix, redis: server.options({ commandTimeoutMs: 2000, connectTimeoutMs: 2000 }) },
    users: { backend: 'redis' },
    session: { signingKey: randomBytes(32).toString('base64url') },
  };
}

function merge(a: Record<string, any>, b: Record<string, any>): Record<string, any> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? merge(a[k], v) : v;
  return out;
}

/** A request function for a gateway's HTTPS port that trusts `caPem` (SNI localhost) and sends the path as given. */
export function httpsClient(port: number, caPem: string): TestGateway['request'] {
  return (method, path, ro = {}) => new Promise((resolve, reject) => {
    // host/port/path, not a URL string: a URL would normalise %2e%2e, // and \ before sending.
    const req = httpsRequest({
      host: '127.0.0.1', port, path, servername: 'localhost',
      method, ca: caPem, headers: ro.headers, agent: false,
      ...(ro.cert === undefined ? {} : { cert: ro.cert.cert, key: ro.cert.key }),
      ...(ro.localAddress === undefined ? {} : { localAddress: ro.localAddress }),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(ro.body);
  });
}

/** Starts a gateway on free loopback ports with generated dev certificates and an empty users file. */
export async function startGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-gateway-'));
  const clock = options.clock ?? testClock();
  const o = options.orthanc;
  const raw = merge({
    listen: { https: { host: '127.0.0.1', port: 0 }, dicom: { host: '127.0.0.1', port: 0 }, metrics: { host: '127.0.0.1', port: 0 } },
    tls: { cert: 'certs/server.crt', key: 'certs/server.key', clientCa: 'certs/ca.crt', autoGenerate: true },
    upstream: {
      dicomweb: o?.dicomwebUrl ?? 'http://127.0.0.1:9/dicom-web',
      ...(o === undefined ? {} : { wadoUri: o.wadoUrl }),
      dicom: { host: '127.0.0.1', port: o?.dicomPort ?? 9, aeTitle: o?.aeTitle ?? 'ORTHANC' },
      timeoutMs: 10_000,
    },
    users: { file: 'config/users.yaml' },
    devices: { file: 'config/devices.yaml' },
    roles: {
      radiologist: ['echo', 'search', 'retrieve', 'move'],
      technologist: ['echo', 'store'],
      viewer: ['search', 'retrieve'],
      admin: ['echo', 'search', 'retrieve', 'store', 'delete'],
    },
    log: { level: 'debug' },
  }, merge(options.redis === undefined ? {} : redisStateConfig(options.redis), options.config ?? {}));
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, stringify(raw));
  await options.prepare?.(dir, configFile);
  const config = buildConfig(raw, { baseDir: dir, source: configFile });
  const rawLogs: string[] = [];
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        rawLogs.push(line);
        try { logs.push(JSON.parse(line)); } catch { logs.push({ unparsed: line }); }
      }
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const gateway = createGateway(config, { logger, clock, configFile, ...options.gatewayOptions });
  const addresses = await gateway.start();
  const caPem = readFileSync(join(dir, 'certs/ca.crt'), 'utf8');
  const url = `https://127.0.0.1:${addresses.https.port}`;

  const request = httpsClient(addresses.https.port, caPem);

  const tg: TestGateway = {
    gateway, config, dir, configFile, url, clock, logs, rawLogs, caPem,
    httpsPort: addresses.https.port,
    dicomPort: addresses.dicom.port,
    metricsPort: addresses.metrics?.port ?? 0,
    auditEvents: (event) => logs.filter((l) => l['audit'] !== undefined && (event === undefined || l['audit'].event === event)).map((l) => l['audit']),
    async addUser(username, role, password = `pw-${username}-Xq7!long`, extra = {}) {
      const users: UserDirectory = config.users.backend === 'redis' ? await openRedisUserDirectory(config) : new FileUserDirectory(join(dir, 'config/users.yaml'));
      const totpSecret = generateTotpSecret();
      const now = new Date().toISOString();
      await users.add({
        username, role, passwordHash: await hashPassword(password), totpSecret, disabled: false, createdAt: now, updatedAt: now,
        ...(extra.aeTitles === undefined ? {} : { aeTitles: extra.aeTitles }),
      });
      await users.close();
      await gateway.reload();
      return { username, password, role, totpSecret };
    },
    code: (user, offsetMs = 0) => oathtool(user.totpSecret, { now: new Date(clock() + offsetMs) }),
    async login(user) {
      // A code is accepted once: move to the next 30 s step so each login has a fresh one.
      clock.advance(30_000);
      const r = await request('POST', '/auth/login', {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: user.username, password: user.password, totp: await tg.code(user) }),
      });
      if (r.status !== 200) throw new Error(`login of ${user.username} failed: ${r.status} ${r.text}`);
      return r.json().token as string;
    },
    request,
    async stop() {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return tg;
}
