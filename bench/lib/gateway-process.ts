// Runs the gateway as its own process (`node bin/pacs-gateway.js run --config FILE`), so its CPU and memory can be read from /proc.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../test/helpers/ports.js';
import { waitForPort } from '../../test/helpers/tools.js';
import { BENCH_ACTIONS, BENCH_ROLE, type BenchIdentities } from './identities.js';
import { GATEWAY_BIN } from './paths.js';
import { RUNTIME_FLAGS } from '../../src/cli/runtime-flags.js';

export interface GatewayProcess {
  readonly name: string;
  readonly pid: number;
  readonly httpsPort: number;
  readonly dicomPort: number;
  /** Its Prometheus listener (listen.metrics): the bench reads counters there (TLS handshakes resumed or full). */
  readonly metricsPort: number;
  /** `https://127.0.0.1:<httpsPort>` */
  readonly url: string;
  readonly logFile: string;
  /** Where SIGUSR2 makes the gateway write its event-loop delay (bench/lib/event-loop.ts); undefined for another --gateway-bin, which may not handle SIGUSR2. */
  readonly eldFile: string | undefined;
  /** SIGTERM (the gateway stops gracefully and writes its CPU profile), SIGKILL after 15 s. Idempotent. */
  stop(): Promise<void>;
}

export interface GatewayProcessOptions {
  readonly name: string;
  readonly dir: string;
  readonly httpsPort: number;
  readonly dicomPort: number;
  readonly identities: BenchIdentities;
  /** Upstream DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web */
  readonly dicomweb: string;
  readonly wadoUri: string;
  readonly dicom: { readonly host: string; readonly port: number; readonly aeTitle: string };
  /** Directory for `node --cpu-prof` output; no profiling when undefined. */
  readonly profileDir?: string;
  /** The launcher to run (default: this checkout's bin/pacs-gateway.js); another build for A/B comparisons. */
  readonly bin?: string;
  /** node's flags before the launcher (default: the gateway's RUNTIME_FLAGS, as its launchers set them). */
  readonly nodeFlags?: readonly string[];
  /**
   * Password checks that may wait, in all and per address (login.maxQueuedChecks / maxChecksPerAddress), for the
   * `many` scenario's concurrent user-identity associations, which all come from 127.0.0.1; absent: the defaults.
   */
  readonly passwordQueue?: number;
  /** viewer.path of the gateway (the viewer scenario); absent: the key is not written. */
  readonly viewerPath?: string;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Writes the gateway's config and starts it; resolves once both listeners accept connections. */
export async function startGatewayProcess(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const id = o.identities;
  const configFile = join(o.dir, `${o.name}.yaml`);
  const metricsPort = await freePort();
  writeFileSync(configFile, stringify({
    listen: { https: { host: '127.0.0.1', port: o.httpsPort }, dicom: { host: '127.0.0.1', port: o.dicomPort }, metrics: { host: '127.0.0.1', port: metricsPort } },
    tls: { cert: id.server.cert, key: id.server.key, clientCa: id.caFile, autoGenerate: false },
    upstream: { dicomweb: o.dicomweb, wadoUri: o.wadoUri, dicom: o.dicom, timeoutMs: 30_000 },
    users: { backend: 'file', file: id.usersFile },
    devices: { file: id.devicesFile },
    roles: { [BENCH_ROLE]: [...BENCH_ACTIONS] },
    session: { signingKey: randomBytes(32).toString('base64url') },
    // The memory scenario holds hundreds of associations from one device; the default per-principal cap is 50,
    // and every client of the bench is one address (127.0.0.1): the per-address connection caps go up too.
    dicom: { maxAssociations: 1000, maxAssociationsPerPrincipal: 500, maxConnectionsPerAddress: 2000 },
    http: { maxConnectionsPerAddress: 2000 },
    log: { level: 'info' },
    // The viewer scenario's build (bench/scenarios/viewer.ts); other runs leave the key out, as older builds lack it.
    ...(o.viewerPath === undefined ? {} : { viewer: { path: o.viewerPath } }),
    ...(o.passwordQueue === undefined ? {} : { login: { maxQueuedChecks: o.passwordQueue, maxChecksPerAddress: o.passwordQueue } }),
  }));
  const logFile = join(o.dir, `${o.name}.log`);
  const fd = openSync(logFile, 'a');
  const nodeArgs = o.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`, `--cpu-prof-name=${o.name}-${Date.now()}.cpuprofile`];
  const eldFile = o.bin === undefined ? join(o.dir, `${o.name}-event-loop.json`) : undefined;
  const child: ChildProcess = spawn(process.execPath, [...(o.nodeFlags ?? RUNTIME_FLAGS), ...nodeArgs, o.bin ?? GATEWAY_BIN, 'run', '--config', configFile], {
    cwd: o.dir, stdio: ['ignore', fd, fd], env: { ...process.env, PGW_BENCH_ELD_FILE: eldFile ?? '' },
  });
  closeSync(fd);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => { exited = true; resolve(); });
    child.once('error', () => { exited = true; resolve(); });
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    })();
    return stopping;
  };
  try {
    await Promise.race([
      Promise.all([waitForPort(o.httpsPort, '127.0.0.1', 30_000), waitForPort(o.dicomPort, '127.0.0.1', 30_000)]),
      exit.then(() => { throw new Error('exited during start-up'); }),
    ]);
  } catch (err) {
    await stop();
    throw new Error(`gateway ${o.name} did not start: ${(err as Error).message}\n--- ${logFile} ---\n${tail(logFile)}`, { cause: err });
  }
  if (child.pid === undefined) throw new Error(`gateway ${o.name} has no pid`);
  return { name: o.name, pid: child.pid, httpsPort: o.httpsPort, dicomPort: o.dicomPort, metricsPort, url: `https://127.0.0.1:${o.httpsPort}`, logFile, eldFile, stop };
}
