// The fault and soak environment: Orthanc, Redis, a stallable network to the PACS, and the gateway as its own process.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import { issueCertificate } from '../../src/tls/issue.js';
import { startOrthanc, type OrthancServer } from '../helpers/orthanc.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { GATEWAY_BIN, startReplica, type Replica } from '../helpers/replica.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { oathtool, run } from '../helpers/tools.js';

export interface Environment {
  readonly dir: string;
  readonly orthanc: OrthancServer;
  readonly redis: RedisServer;
  /** The network between the gateway and the PACS (DICOM and HTTP), which can stall. */
  readonly pacsDicomLink: TcpProxy;
  readonly pacsHttpLink: TcpProxy;
  readonly httpsPort: number;
  readonly dicomPort: number;
  readonly caFile: string;
  readonly caPem: string;
  /** A modality's certificate and key files (mTLS, calling AE CT01). */
  readonly device: { readonly cert: string; readonly key: string };
  /** The running gateway process (replaced by restartGateway). */
  gateway(): Replica;
  /** SIGKILL the gateway (a crash); resolves when it is gone. */
  killGateway(): Promise<void>;
  /** Starts the gateway again on the same ports. */
  startGateway(): Promise<void>;
  /** PIDs and exits of every gateway process: an exit we did not cause is a crash. */
  readonly unexpectedExits: string[];
  /** A user's session token and DIMSE token file (type 5 user identity). */
  readonly user: { readonly token: string; readonly jwtFile: string };
  close(): Promise<void>;
}

/** `probeFile`: load event-loop-probe.mjs into the gateway process, writing its samples there. */
export async function startEnvironment(log: (line: string) => void = () => undefined, options: { probeFile?: string } = {}): Promise<Environment> {
  const cleanup: (() => Promise<void> | void)[] = [];
  try {
    return await setUp(log, cleanup, options);
  } catch (err) {
    for (const c of cleanup.reverse()) await c();
    throw err;
  }
}

async function setUp(log: (line: string) => void, cleanup: (() => Promise<void> | void)[], options: { probeFile?: string }): Promise<Environment> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-reliability-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'certs'));
  mkdirSync(join(dir, 'config'));
  const orthanc = await startOrthanc({ recordActivity: false, startTimeoutMs: 60_000 });
  cleanup.push(() => orthanc.stop());
  const redis = await startRedis({ persistent: true });
  cleanup.push(() => redis.destroy());
  const pacsDicomLink = await startTcpProxy({ target: { host: '127.0.0.1', port: orthanc.dicomPort } });
  cleanup.push(() => pacsDicomLink.close());
  const pacsHttpLink = await startTcpProxy({ target: { host: '127.0.0.1', port: orthanc.httpPort } });
  cleanup.push(() => pacsHttpLink.close());
  ensureDevCertificates({ cert: join(dir, 'certs/server.crt'), key: join(dir, 'certs/server.key'), clientCa: join(dir, 'certs/ca.crt'), caKey: join(dir, 'certs/ca.key') });
  const caFile = join(dir, 'certs/ca.crt');
  const caPem = readFileSync(caFile, 'utf8');
  const issued = issueCertificate({ certPem: caPem, keyPem: readFileSync(join(dir, 'certs/ca.key'), 'utf8') }, { commonName: 'ct-fault-1', usage: 'client' });
  const device = { cert: join(dir, 'device.crt'), key: join(dir, 'device.key') };
  writeFileSync(device.cert, issued.certPem);
  writeFileSync(device.key, issued.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'config/devices.yaml'), stringify({ devices: { 'ct-fault-1': { role: 'technologist', aeTitles: ['CT01'], fingerprint: issued.fingerprint256 } } }));
  const httpsPort = await freePort();
  const dicomPort = await freePort();
  const env: Record<string, string> = { PACS_GATEWAY_SESSION_KEY: randomBytes(32).toString('base64url') };
  const probe: Record<string, string> = options.probeFile === undefined ? {} : { NODE_OPTIONS: `--import=${pathToFileURL(join(process.cwd(), 'test/reliability/event-loop-probe.mjs')).href}`, PGW_PROBE_FILE: options.probeFile };
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, stringify({
    listen: { https: { host: '127.0.0.1', port: httpsPort }, dicom: { host: '127.0.0.1', port: dicomPort }, metrics: { host: '127.0.0.1', port: 0 } },
    tls: { cert: 'certs/server.crt', key: 'certs/server.key', clientCa: 'certs/ca.crt', autoGenerate: false },
    upstream: {
      dicomweb: `http://127.0.0.1:${pacsHttpLink.port}/dicom-web`, wadoUri: `http://127.0.0.1:${pacsHttpLink.port}/wado`,
      dicom: { host: '127.0.0.1', port: pacsDicomLink.port, aeTitle: orthanc.aeTitle }, timeoutMs: 6000,
    },
    users: { file: 'config/users.yaml' },
    devices: { file: 'config/devices.yaml' },
    roles: { technologist: ['echo', 'store', 'search', 'retrieve'] },
    session: { signingKey: '${PACS_GATEWAY_SESSION_KEY}', idleMinutes: 600, maxHours: 12, dimseTokenMinutes: 600 },
    lockout: { userMaxFailures: 100, addressMaxFailures: 10_000 },
    state: { store: 'redis', keyPrefix: `pgw-fault-${randomBytes(4).toString('hex')}:`, redis: redis.options({ connectTimeoutMs: 1000, commandTimeoutMs: 1500 }) },
    dicom: { maxAssociations: 200, maxAssociationsPerPrincipal: 100 },
    log: { level: 'info' },
  }));
  const password = `Pw-${randomBytes(8).toString('hex')}-Xq7!`;
  const added = await run(process.execPath, [GATEWAY_BIN, 'users', 'add', 'tess', '--role', 'technologist', '--password-stdin', '--json', '--config', configFile], { cwd: dir, env, input: `${password}\n`, timeoutMs: 60_000 });
  if (added.code !== 0) throw new Error(`users add: ${added.stderr}`);
  const totpSecret = (JSON.parse(added.stdout) as { totpSecret: string }).totpSecret;

  let current: Replica | undefined;
  let killing = false;
  const unexpectedExits: string[] = [];
  const startGateway = async (): Promise<void> => {
    const r = await startReplica({ name: 'gateway', configFile, cwd: dir, env: { ...env, ...probe }, caPem, startTimeoutMs: 60_000 });
    current = r;
    void r.process.exited.then((res) => {
      if (!(killing && current === r) && !r.process.child.killed) unexpectedExits.push(`gateway exited by itself (code ${String(res.code)}, signal ${String(res.signal)}): ${res.stderr.slice(-500)}`);
    });
  };
  await startGateway();
  cleanup.push(async () => { await current?.stop(); });
  const gw = (): Replica => current as Replica;
  const login = await gw().request('POST', '/auth/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'tess', password, totp: await oathtool(totpSecret) }) });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`);
  const token = login.json().token as string;
  const dimse = await gw().request('POST', '/auth/dimse-token', { headers: { authorization: `Bearer ${token}` } });
  if (dimse.status !== 200) throw new Error(`dimse-token: ${dimse.status} ${dimse.text}`);
  const jwtFile = join(dir, 'dimse.jwt');
  writeFileSync(jwtFile, dimse.json().token as string);
  log(`environment ready: gateway https ${httpsPort}, dicom ${dicomPort}; Orthanc ${orthanc.httpPort}/${orthanc.dicomPort}; Redis ${redis.port}`);

  return {
    dir, orthanc, redis, pacsDicomLink, pacsHttpLink, httpsPort, dicomPort, caFile, caPem, device, unexpectedExits,
    user: { token, jwtFile },
    gateway: gw,
    async killGateway() {
      const r = gw();
      killing = true;
      r.process.child.kill('SIGKILL');
      await r.process.exited;
      killing = false;
    },
    startGateway,
    async close() {
      await current?.stop();
      await pacsDicomLink.close();
      await pacsHttpLink.close();
      await redis.destroy();
      await orthanc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
