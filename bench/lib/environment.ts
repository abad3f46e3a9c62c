// Starts everything the scenarios measure, on free loopback ports: Orthanc, a fast SCP, stunnel, nginx (proxy + static upstream), two gateways.

import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startOrthanc, type OrthancServer } from '../../test/helpers/orthanc.js';
import { freePort } from '../../test/helpers/ports.js';
import { startProcess, waitForPort, type StartedProcess } from '../../test/helpers/tools.js';
import type { Cleanup } from './cleanup.js';
import { createDataset, QIDO_PATH, wadoPath, type Dataset } from './dataset.js';
import { dcmtk } from './dcmtk.js';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { fetchUrl, login } from './http-client.js';
import { createIdentities, type BenchIdentities } from './identities.js';
import { startNginxProxy, startStaticUpstream, type Nginx } from './nginx.js';
import { selected, type BenchOptions } from './options.js';
import { FLOOR_PROXY, ROOT } from './paths.js';
import { RUNTIME_FLAGS } from '../../src/cli/runtime-flags.js';
import type { Components } from './rounds.js';
import { startStunnel, type Stunnel } from './stunnel.js';

/** AE title of the fast SCP (storescp --ignore): receives C-STOREs and throws the data away. */
export const FAST_SCP_AE = 'FASTSCP';

/** Programs the bench runs (Debian packages; scripts/install-deps.sh installs them). */
const TOOLS = ['Orthanc', 'storescu', 'echoscu', 'findscu', 'storescp', 'stunnel', 'nginx', 'wrk', 'oathtool', 'curl'];

export interface BenchEnv {
  readonly dir: string;
  readonly id: BenchIdentities;
  readonly caPem: string;
  readonly data: Dataset;
  readonly orthanc: OrthancServer;
  readonly fastScpPort: number;
  readonly stunnel: Stunnel;
  /** stunnel services: TLS and mTLS in front of Orthanc, mTLS in front of the fast SCP. */
  readonly stunnelPorts: { readonly tls: number; readonly mtls: number; readonly fastMtls: number };
  readonly nginx: Nginx;
  /** nginx TLS proxy ports: to Orthanc, to the static upstream. */
  readonly nginxPorts: { readonly orthanc: number; readonly static: number };
  readonly staticUpstream: Nginx;
  readonly staticPort: number;
  /** Gateway in front of Orthanc (DICOM and DICOMweb). */
  readonly gateway: GatewayProcess;
  /** Gateway in front of the fast upstreams (static DICOMweb, fast SCP). */
  readonly gatewayFast: GatewayProcess;
  /** Reference proxies without gateway logic in front of the static upstream (see bench/floor-proxy.ts). */
  readonly floorPorts: { readonly node: number; readonly fastify: number };
  /** Bearer tokens of the viewer's session on each gateway. */
  readonly tokens: { readonly gateway: string; readonly gatewayFast: string };
  readonly components: Components;
  readonly versions: Record<string, string>;
}

/** The first line of a tool's version output that matches `pattern` (whole match), else "unknown". */
function versionOf(cmd: string, args: string[], pattern: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  return pattern.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[0] ?? 'unknown';
}

/** Installs missing Debian packages (scripts/install-deps.sh) unless told not to, then checks every tool is on PATH. */
export function checkTools(options: BenchOptions, log: (s: string) => void): void {
  if (!options.noInstall) {
    const r = spawnSync('bash', [join(ROOT, 'scripts/install-deps.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000 });
    if (r.status !== 0) throw new Error(`scripts/install-deps.sh failed: ${(r.stderr || r.stdout).trim()}`);
    log(`  ${r.stdout.trim()}`);
  }
  const path = `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin`;
  const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { env: { ...process.env, PATH: path } }).status !== 0);
  if (missing.length > 0) throw new Error(`missing tools: ${missing.join(', ')} (run scripts/install-deps.sh, or apt-get install orthanc orthanc-dicomweb dcmtk stunnel4 nginx-light wrk oathtool curl)`);
}

/** PIDs whose command line contains `needle` (Orthanc is started by a helper that does not expose its pid). */
function pidsWithArg(needle: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function startFastScp(dir: string, port: number): Promise<StartedProcess> {
  const p = await startProcess('storescp', ['--ignore', '-aet', FAST_SCP_AE, String(port)], { cwd: dir });
  await Promise.race([
    waitForPort(port, '127.0.0.1', 15_000),
    p.exited.then((r) => { throw new Error(`storescp exited (${String(r.code)}): ${r.stderr}`); }),
  ]);
  return p;
}

/** The multipart boundary of a `multipart/related; …; boundary=X` content type. */
function boundaryOf(contentType: string | string[] | undefined): string {
  const m = /boundary="?([^";]+)"?/.exec(String(contentType ?? ''));
  if (m?.[1] === undefined) throw new Error(`no multipart boundary in "${String(contentType)}"`);
  return m[1];
}

/** Starts everything; every process is registered with `cleanup` as soon as it runs. */
export async function startEnvironment(dir: string, options: BenchOptions, cleanup: Cleanup, log: (s: string) => void): Promise<BenchEnv> {
  const w = options.workload;
  log('  certificates, users, devices');
  // User identity associations: one user each (a TOTP code is accepted once): warm-up + rounds, for two scenarios,
  // and the user-identity variant of the smallest `many` store scenario (one user per concurrent association).
  const manyUsers = selected(options, 'many') ? (w.rounds + 1) * Math.min(...w.manyAssociations) : 0;
  const id = await createIdentities(dir, { identityUsers: 2 * (w.rounds + 1) + 2 + manyUsers, loginUsers: w.logins });
  const caPem = readFileSync(id.caFile, 'utf8');

  log(`  dataset: ${w.storeCount} × ${(w.storeBytes / 1048576).toFixed(1)} MB series, one ${(w.bigBytes / 1048576).toFixed(0)} MB instance`);
  const data = await createDataset(join(dir, 'data'), { count: w.storeCount, bytes: w.storeBytes, bigBytes: w.bigBytes });

  log('  Orthanc');
  const orthanc = await startOrthanc({
    recordActivity: false,
    config: {
      // Every idle association of the memory scenario, and every concurrent association of `many`, holds one of Orthanc's DICOM threads.
      DicomThreadsCount: Math.max(32, w.idleAssociations + 16, ...w.manyAssociations.map((n) => n + 16)),
      // Each run stores the same instances again; overwriting makes every run do the same work.
      OverwriteInstances: true,
      HttpCompressionEnabled: false,
    },
  });
  cleanup.add('Orthanc', () => orthanc.stop());
  const orthancPids = pidsWithArg(join(orthanc.dir, 'orthanc.json'));

  const fastScpPort = await freePort();
  const fastScp = await startFastScp(dir, fastScpPort);
  cleanup.add('storescp', async () => { await fastScp.stop(); });

  log('  loading the dataset into Orthanc (storescu)');
  const direct = ['-aet', 'BENCH', '-aec', orthanc.aeTitle, '127.0.0.1', String(orthanc.dicomPort)];
  await dcmtk('storescu', [...direct, '+sd', data.seriesDir], 300_000);
  await dcmtk('storescu', [...direct, data.bigFile], 300_000);

  // The static upstream serves exactly what Orthanc answers.
  const qido = await fetchUrl(`${orthanc.httpUrl}${QIDO_PATH}`, { headers: { accept: 'application/dicom+json' } });
  const wado = await fetchUrl(`${orthanc.httpUrl}${wadoPath(data.first)}`);
  const big = await fetchUrl(`${orthanc.httpUrl}${wadoPath(data.big)}`, { timeoutMs: 300_000 });
  for (const [name, r] of [['QIDO-RS', qido], ['WADO-RS', wado], ['WADO-RS (big)', big]] as const) {
    if (r.status !== 200) throw new Error(`Orthanc ${name}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
  }
  const boundary = boundaryOf(wado.headers['content-type']);
  const bigBoundary = boundaryOf(big.headers['content-type']);
  // One boundary for both static bodies: rewrite the big one's (same length, so the body stays valid).
  const bigBody = bigBoundary === boundary ? big.body
    : Buffer.from(big.body.toString('latin1').split(bigBoundary).join(boundary), 'latin1');

  log('  nginx static upstream, stunnel, nginx TLS proxy');
  const staticPort = await freePort();
  const staticUpstream = await startStaticUpstream(dir, staticPort, { qido: qido.body, wado: wado.body, big: { path: wadoPath(data.big), body: bigBody }, boundary });
  cleanup.add('nginx static upstream', () => staticUpstream.stop());

  const stunnelPorts = { tls: await freePort(), mtls: await freePort(), fastMtls: await freePort() };
  const stunnel = await startStunnel(dir, id, [
    { name: 'orthanc-tls', accept: stunnelPorts.tls, connect: orthanc.dicomPort, mutual: false },
    { name: 'orthanc-mtls', accept: stunnelPorts.mtls, connect: orthanc.dicomPort, mutual: true },
    { name: 'fast-mtls', accept: stunnelPorts.fastMtls, connect: fastScpPort, mutual: true },
  ]);
  cleanup.add('stunnel', () => stunnel.stop());

  const nginxPorts = { orthanc: await freePort(), static: await freePort() };
  const nginx = await startNginxProxy(dir, id, options.nginxWorkers, [
    { listen: nginxPorts.orthanc, upstream: orthanc.httpPort },
    { listen: nginxPorts.static, upstream: staticPort },
  ]);
  cleanup.add('nginx TLS proxy', () => nginx.stop());

  log('  reference proxies (bare node, bare fastify)');
  const floorPorts = { node: await freePort(), fastify: await freePort() };
  const floors: Record<string, StartedProcess> = {};
  for (const mode of ['node', 'fastify'] as const) {
    const p = await startProcess(process.execPath, [...(options.gatewayNodeFlags ?? RUNTIME_FLAGS), FLOOR_PROXY, mode, String(floorPorts[mode]), `http://127.0.0.1:${staticPort}`, id.server.cert, id.server.key]);
    cleanup.add(`${mode} reference proxy`, async () => { await p.stop(); });
    await Promise.race([
      waitForPort(floorPorts[mode], '127.0.0.1', 30_000),
      p.exited.then((r) => { throw new Error(`${mode} reference proxy exited (${String(r.code)}): ${r.stderr}`); }),
    ]);
    floors[mode] = p;
  }

  log('  gateways (separate processes)');
  const profileDir = options.profile ? join(options.outDir, 'profiles') : undefined;
  const gateway = await startGatewayProcess({
    name: 'gateway', dir, httpsPort: await freePort(), dicomPort: await freePort(), identities: id,
    dicomweb: orthanc.dicomwebUrl, wadoUri: orthanc.wadoUrl,
    dicom: { host: '127.0.0.1', port: orthanc.dicomPort, aeTitle: orthanc.aeTitle },
    ...(selected(options, 'viewer') ? { viewerPath: join(ROOT, '.viewer/ohif') } : {}),
    // Real modalities each have an address of their own; here every user-identity association of `many` comes from 127.0.0.1.
    ...(manyUsers > 0 ? { passwordQueue: Math.min(...w.manyAssociations) + 4 } : {}),
    ...(profileDir === undefined ? {} : { profileDir }),
    ...(options.gatewayBin === undefined ? {} : { bin: options.gatewayBin }),
    ...(options.gatewayNodeFlags === undefined ? {} : { nodeFlags: options.gatewayNodeFlags }),
  });
  cleanup.add('gateway', () => gateway.stop());
  const gatewayFast = await startGatewayProcess({
    name: 'gateway-fast', dir, httpsPort: await freePort(), dicomPort: await freePort(), identities: id,
    dicomweb: `http://127.0.0.1:${staticPort}/dicom-web`, wadoUri: `http://127.0.0.1:${staticPort}/wado`,
    dicom: { host: '127.0.0.1', port: fastScpPort, aeTitle: FAST_SCP_AE },
    ...(profileDir === undefined ? {} : { profileDir }),
    ...(options.gatewayBin === undefined ? {} : { bin: options.gatewayBin }),
    ...(options.gatewayNodeFlags === undefined ? {} : { nodeFlags: options.gatewayNodeFlags }),
  });
  cleanup.add('gateway-fast', () => gatewayFast.stop());

  const tokens = { gateway: await login(gateway.url, caPem, id.viewer), gatewayFast: await login(gatewayFast.url, caPem, id.viewer) };

  const fastScpPid = fastScp.child.pid ?? 0;
  const components: Components = {
    gateway: () => [gateway.pid],
    'gateway-fast': () => [gatewayFast.pid],
    stunnel: () => [stunnel.pid],
    nginx: () => nginx.pids(),
    'static-upstream': () => staticUpstream.pids(),
    orthanc: () => orthancPids,
    'fast-scp': () => [fastScpPid],
    'floor-node': () => [floors['node']?.child.pid ?? 0],
    'floor-fastify': () => [floors['fastify']?.child.pid ?? 0],
  };
  const system = await fetchUrl(`${orthanc.httpUrl}/system`);
  const versions: Record<string, string> = {
    node: process.version,
    orthanc: String((JSON.parse(system.body.toString('utf8')) as { Version?: unknown }).Version ?? 'unknown'),
    dcmtk: versionOf('storescu', ['--version'], /storescu v[\d.]+/),
    stunnel: versionOf('stunnel', ['-version'], /stunnel [\d.]+/),
    'stunnel OpenSSL': versionOf('stunnel', ['-version'], /Running\s+with OpenSSL [\w.]+/),
    nginx: versionOf('nginx', ['-V'], /nginx\/[\d.]+/),
    'nginx OpenSSL': versionOf('nginx', ['-V'], /running with OpenSSL [\w.]+/),
    wrk: versionOf('wrk', ['--version'], /wrk [^\s]+/),
    'node OpenSSL': `OpenSSL ${process.versions.openssl}`,
  };
  return {
    dir, id, caPem, data, orthanc, fastScpPort, stunnel, stunnelPorts, nginx, nginxPorts, staticUpstream, staticPort, floorPorts,
    gateway, gatewayFast, tokens, components, versions,
  };
}
