// Test helper: a gateway replica as an admin runs it — `node bin/pacs-gateway.js run --config FILE` in its own process.

import { join } from 'node:path';
import { httpsClient, type TestGateway } from './gateway.js';
import { startProcess, waitFor, type RunResult, type StartedProcess } from './tools.js';

/** The CLI launcher; it runs the compiled dist/ (scripts/test.sh builds it before the tests). */
export const GATEWAY_BIN = join(process.cwd(), 'bin/pacs-gateway.js');

export interface Replica {
  readonly name: string;
  readonly httpsPort: number;
  readonly dicomPort: number;
  /** The metrics listener's port (0 when listen.metrics.enabled is false). */
  readonly metricsPort: number;
  readonly process: StartedProcess;
  /** Every JSON log line the process wrote to stdout so far, parsed. */
  logs(): Record<string, any>[];
  /** stdout as written (to check that no secret ever appears). */
  rawLogs(): string;
  /** Alerts (`{"alert":{"name":…}}` lines) so far, optionally of one name. */
  alerts(name?: string): Record<string, any>[];
  /** Audit events so far, optionally of one kind. */
  auditEvents(event?: string): Record<string, any>[];
  request: TestGateway['request'];
  /** SIGTERM (the way an orchestrator stops it); resolves with how it ended. */
  stop(): Promise<RunResult>;
}

export interface StartReplicaOptions {
  readonly name: string;
  readonly configFile: string;
  /** Working directory (relative paths in the config are resolved against the config file's directory). */
  readonly cwd: string;
  /** Environment the config refers to, e.g. `${PACS_GATEWAY_SESSION_KEY}`. */
  readonly env?: Record<string, string>;
  /** The CA that signed the gateway's server certificate (PEM). */
  readonly caPem: string;
  /** How long to wait for "pacs-gateway listening"; default 30 s (two cores, other tests running). */
  readonly startTimeoutMs?: number;
}

function parseLines(text: string): Record<string, any>[] {
  const out: Record<string, any>[] = [];
  const lines = text.split('\n');
  lines.pop(); // a last line without '\n' may be half written
  for (const line of lines) {
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as Record<string, any>);
    } catch {
      out.push({ unparsed: line });
    }
  }
  return out;
}

function portOf(address: unknown): number {
  const m = /:(\d+)$/.exec(String(address));
  if (m === null) throw new Error(`no port in listening address ${String(address)}`);
  return Number(m[1]);
}

/** Starts one replica and resolves once it logs the addresses it listens on (ports may be 0 in the config). */
export async function startReplica(o: StartReplicaOptions): Promise<Replica> {
  const proc = await startProcess(process.execPath, [GATEWAY_BIN, 'run', '--config', o.configFile], { cwd: o.cwd, env: o.env });
  let exited = false;
  void proc.exited.then(() => { exited = true; });
  const logs = (): Record<string, any>[] => parseLines(proc.stdout());
  let listening: Record<string, any>;
  try {
    listening = await waitFor(() => {
      if (exited) throw new Error('exited');
      return logs().find((l) => l['msg'] === 'pacs-gateway listening');
    }, o.startTimeoutMs ?? 30_000);
  } catch (err) {
    await proc.stop();
    throw new Error(`replica ${o.name} did not start:\n${proc.stderr()}\n${proc.stdout().split('\n').slice(-20).join('\n')}`, { cause: err });
  }
  const httpsPort = portOf(listening['https']);
  return {
    name: o.name,
    httpsPort,
    dicomPort: portOf(listening['dicom']),
    metricsPort: listening['metrics'] === undefined ? 0 : portOf(listening['metrics']),
    process: proc,
    logs,
    rawLogs: () => proc.stdout(),
    alerts: (name) => logs().filter((l) => l['alert'] !== undefined && (name === undefined || l['alert'].name === name)).map((l) => l['alert']),
    auditEvents: (event) => logs().filter((l) => l['audit'] !== undefined && (event === undefined || l['audit'].event === event)).map((l) => l['audit']),
    request: httpsClient(httpsPort, o.caPem),
    stop: () => proc.stop(10_000),
  };
}
