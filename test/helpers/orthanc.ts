// Test helper: start a real Orthanc (Debian package) per test on loopback ports, and record everything that reaches it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { waitFor } from './tools.js';

/** Path of the Orthanc server binary installed by Debian's `orthanc` package. */
export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
/** Path of the DICOMweb plugin installed by Debian's `orthanc-dicomweb` package. */
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
/**
 * Header the helpers in this file put on their own requests to Orthanc, so that
 * {@link OrthancServer.httpRequests} can leave them out. Tests should not send it.
 */
export const HARNESS_HEADER = 'x-pgw-test-harness';

/** A remote DICOM node Orthanc may talk to (C-MOVE destination, C-FIND/C-GET/C-STORE peer). */
export interface OrthancModality {
  AET: string;
  Host: string;
  Port: number;
  /** Any further per-modality option of Orthanc 1.10, e.g. `UseDicomTls`, `AllowEcho`. */
  [option: string]: unknown;
}

/** Options for {@link startOrthanc}; every field is optional. */
export interface OrthancOptions {
  /** Orthanc's own AE title (`DicomAet`); default `ORTHANC`. */
  aeTitle?: string;
  /** Refuse associations whose called AE is not {@link aeTitle} (`DicomCheckCalledAet`); default false, as Orthanc. */
  checkCalledAet?: boolean;
  /** Known DICOM nodes (`DicomModalities`), keyed by a symbolic name. A C-MOVE destination must be here. */
  modalities?: Record<string, OrthancModality>;
  /**
   * `DicomAlwaysAllow*`: accept these DIMSE services from AE titles that are not in
   * `modalities`. Default: all true (the gateway in front decides what is allowed).
   */
  alwaysAllow?: { echo?: boolean; store?: boolean; find?: boolean; get?: boolean; move?: boolean };
  /**
   * Record every HTTP request (Lua `IncomingHttpRequestFilter`) and run Orthanc with
   * `--verbose` so that DICOM connections and commands can be counted. Default true; turn it
   * off only for benchmarks (the Lua hook serialises requests on Orthanc's Lua lock).
   */
  recordActivity?: boolean;
  /** Further top-level Orthanc configuration, merged last (e.g. `DicomTlsEnabled`, `DicomThreadsCount`). */
  config?: Record<string, unknown>;
  /** How long to wait for Orthanc to answer `GET /system`; default 30 000 ms. */
  startTimeoutMs?: number;
}

/** One HTTP request as Orthanc's Lua `IncomingHttpRequestFilter` saw it. */
export interface HttpRequestRecord {
  /** `GET`, `POST`, `PUT` or `DELETE` (Orthanc 1.10 reports HEAD and OPTIONS as `GET`). */
  method: string;
  /** Path after Orthanc's own decoding and normalisation (`%2F` → `/`, `//` → `/`, `..` resolved); no query string. */
  uri: string;
  ip: string;
  username: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
}

/** One DIMSE request Orthanc's DICOM server received (from its `--verbose` log). */
export interface DicomCommandRecord {
  /** `Echo`, `Store`, `Find`, `Get`, `Move`, … as Orthanc names the request type. */
  type: string;
  callingAet: string;
  calledAet: string;
  ip: string;
}

/** A snapshot of everything that has reached an Orthanc so far (see {@link OrthancServer.activity}). */
export interface OrthancActivity {
  /** `METHOD /path` of every HTTP request except the harness's own. */
  httpRequests: string[];
  /**
   * TCP connections on the DICOM port that Orthanc has finished reading an association
   * request from: real associations, malformed first PDUs and connections closed before a
   * complete A-ASSOCIATE-RQ. A connection held open without data is counted only once
   * Orthanc gives up on it (its ACSE timeout) or the peer closes it.
   */
  dicomConnections: number;
  /** A-ASSOCIATE-RQs Orthanc parsed (accepted or rejected), i.e. with a calling AE title. */
  dicomAssociations: number;
  /** DIMSE requests Orthanc received on accepted associations. */
  dicomCommands: DicomCommandRecord[];
}

/** A running Orthanc started by {@link startOrthanc}. */
export interface OrthancServer {
  /** `http://127.0.0.1:<httpPort>` (no trailing slash). */
  httpUrl: string;
  httpPort: number;
  /** DICOM port (Orthanc listens on every interface; use 127.0.0.1). */
  dicomPort: number;
  aeTitle: string;
  /** Temp directory holding config, storage, index, Lua script and logs; removed by `stop()`. */
  dir: string;
  /** `http://127.0.0.1:<httpPort>/dicom-web` (no trailing slash). */
  dicomwebUrl: string;
  /** `http://127.0.0.1:<httpPort>/wado` (WADO-URI). */
  wadoUrl: string;
  /** Orthanc's stderr/stdout log file. */
  logFile: string;
  /** The configuration Orthanc was started with. */
  config: Record<string, unknown>;
  /** `METHOD /path` of every HTTP request Orthanc received, in order, except those of these helpers. */
  httpRequests(options?: { includeHarness?: boolean }): Promise<string[]>;
  /** Every HTTP request Orthanc received with its headers, in order, except those of these helpers. */
  httpRequestDetails(options?: { includeHarness?: boolean }): Promise<HttpRequestRecord[]>;
  /** Number of A-ASSOCIATE-RQs Orthanc received on its DICOM port (accepted or rejected). */
  dicomAssociations(): Promise<number>;
  /** Every TCP connection Orthanc's DICOM server has dealt with (see {@link OrthancActivity.dicomConnections}). */
  dicomConnections(): Promise<number>;
  /** DIMSE requests (C-ECHO, C-STORE, …) Orthanc received, in order, including those Orthanc then refused. */
  dicomCommands(): Promise<DicomCommandRecord[]>;
  /** Everything above in one snapshot; compare two snapshots to prove that nothing reached Orthanc. */
  activity(): Promise<OrthancActivity>;
  /** Orthanc's log so far. */
  log(): Promise<string>;
  /**
   * Kills Orthanc and removes {@link dir}. Idempotent. SIGKILL by default: Orthanc 1.10 takes
   * ~3.5 s to stop on SIGTERM and a test's storage is thrown away anyway; `graceful` sends
   * SIGTERM (SIGKILL after 10 s).
   */
  stop(options?: { graceful?: boolean }): Promise<void>;
  /** SIGKILL, keeping the storage and configuration (a crash); {@link restart} brings it back on the same ports. */
  kill(): Promise<void>;
  /** Starts Orthanc again after {@link kill}, on the same ports and storage; resolves once `GET /system` answers. */
  restart(): Promise<void>;
}

const running = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

// If a test process dies without calling stop(), do not leave Orthanc and its files behind.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const { child, dir } of running) {
      child.kill('SIGKILL');
      if (process.env.PGW_KEEP_ORTHANC !== '1') rmSync(dir, { recursive: true, force: true });
    }
  });
}

function luaHttpRecorder(path: string): string {
  // JSON string literals of an ASCII path are valid Lua string literals.
  return `-- Written by test/helpers/orthanc.ts: append every incoming HTTP request as one JSON line.
function IncomingHttpRequestFilter(method, uri, ip, username, headers)
  local f = io.open(${JSON.stringify(path)}, "a")
  f:write(DumpJson({ method = method, uri = uri, ip = ip, username = username, headers = headers }, true) .. "\\n")
  f:close()
  return true
end
`;
}

/** Complete lines of a file another process appends to (a last line without `\n` may be half written). */
function completeLines(text: string): string[] {
  const lines = text.split('\n');
  lines.pop();
  return lines;
}

async function readIfExists(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

// Orthanc 1.10.1 `--verbose` log lines (CommandDispatcher.cpp, main.cpp). "Association Received"
// is logged for every accepted TCP connection, with an empty AET when the peer closed before
// sending a complete A-ASSOCIATE-RQ; a malformed first PDU gives "Receiving Association failed".
const ASSOCIATION_RECEIVED = /\(dicom\) Association Received from AET (.*) on IP \S+$/;
const ASSOCIATION_FAILED = /Receiving Association failed/;
const DIMSE_REQUEST = /Incoming (\S+) request from AET (.*) on IP (\S+), calling AET (.*)$/;

interface DicomCounts {
  connections: number;
  associations: number;
  commands: DicomCommandRecord[];
}

function parseDicomLog(log: string): DicomCounts {
  const counts: DicomCounts = { connections: 0, associations: 0, commands: [] };
  for (const line of completeLines(log)) {
    const received = ASSOCIATION_RECEIVED.exec(line);
    if (received) {
      counts.connections++;
      if ((received[1] ?? '').trim() !== '') counts.associations++;
      continue;
    }
    if (ASSOCIATION_FAILED.test(line)) {
      counts.connections++;
      continue;
    }
    const m = DIMSE_REQUEST.exec(line);
    if (m) counts.commands.push({ type: m[1] ?? '', callingAet: m[2] ?? '', ip: m[3] ?? '', calledAet: m[4] ?? '' });
  }
  return counts;
}

function logTail(path: string, text: string): string {
  return `\n--- last lines of ${path} ---\n${text.split('\n').slice(-30).join('\n')}`;
}

async function launch(options: OrthancOptions, attempt: number): Promise<OrthancServer> {
  const aeTitle = options.aeTitle ?? 'ORTHANC';
  const recordActivity = options.recordActivity ?? true;
  const allow = options.alwaysAllow ?? {};
  const dir = mkdtempSync(join(tmpdir(), 'pgw-orthanc-'));
  const httpPort = await freePort();
  let dicomPort = await freePort();
  while (dicomPort === httpPort) dicomPort = await freePort();
  const httpLog = join(dir, 'http-requests.jsonl');
  const luaScript = join(dir, 'record-http.lua');
  const logFile = join(dir, 'orthanc.log');
  const configFile = join(dir, 'orthanc.json');

  const config: Record<string, unknown> = {
    Name: `pgw-test-${attempt}`,
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'storage'),
    HttpPort: httpPort,
    DicomPort: dicomPort,
    DicomAet: aeTitle,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    SyncStorageArea: false,
    SaveJobs: false,
    DicomCheckCalledAet: options.checkCalledAet ?? false,
    DicomModalities: options.modalities ?? {},
    DicomAlwaysAllowEcho: allow.echo ?? true,
    DicomAlwaysAllowStore: allow.store ?? true,
    DicomAlwaysAllowFind: allow.find ?? true,
    DicomAlwaysAllowGet: allow.get ?? true,
    DicomAlwaysAllowMove: allow.move ?? true,
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, WadoRoot: '/wado' },
    LuaScripts: recordActivity ? [luaScript] : [],
    ...options.config,
  };
  if (recordActivity) await writeFile(luaScript, luaHttpRecorder(httpLog));
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);

  const args = recordActivity ? ['--verbose', configFile] : [configFile];
  let child!: ChildProcess;
  let entry!: { child: ChildProcess; dir: string };
  let exited = false;
  let exitPromise!: Promise<void>;
  // One Orthanc process; kill() and restart() replace it on the same ports and storage.
  const spawnChild = (): void => {
    const logFd = openSync(logFile, 'a');
    child = spawn(ORTHANC_BINARY, args, {
      cwd: dir,
      env: { ...process.env, TCP_NODELAY: '1' },
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    entry = { child, dir };
    running.add(entry);
    installExitHook();
    exited = false;
    const mine = child;
    exitPromise = new Promise<void>((resolve) => {
      mine.once('exit', () => {
        if (mine === child) exited = true;
        resolve();
      });
      mine.once('error', () => {
        if (mine === child) exited = true;
        resolve();
      });
    });
  };
  spawnChild();

  let stopped: Promise<void> | undefined;
  const stop = (stopOptions: { graceful?: boolean } = {}): Promise<void> => {
    stopped ??= (async () => {
      if (!exited) {
        child.kill(stopOptions.graceful === true ? 'SIGTERM' : 'SIGKILL');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exitPromise;
        clearTimeout(timer);
      }
      running.delete(entry);
      if (process.env.PGW_KEEP_ORTHANC !== '1') rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const ready = (timeoutMs: number): Promise<unknown> => waitFor(async () => {
    if (exited) throw new Error('Orthanc exited during start-up');
    const response = await fetch(`${httpUrl}/system`, { headers: { [HARNESS_HEADER]: '1' } });
    await response.arrayBuffer();
    return response.ok;
  }, timeoutMs);
  try {
    await ready(options.startTimeoutMs ?? 30_000);
  } catch (error) {
    const text = await readIfExists(logFile);
    await stop();
    const portClash = /already in use/.test(text);
    if (portClash && attempt < 3) return launch(options, attempt + 1);
    throw new Error(`Orthanc did not start${logTail(logFile, text)}`, { cause: error });
  }

  const records = async (includeHarness: boolean): Promise<HttpRequestRecord[]> => {
    if (!recordActivity) throw new Error('startOrthanc({ recordActivity: false }) records no HTTP requests');
    const lines = completeLines(await readIfExists(httpLog)).filter((line) => line !== '');
    const all = lines.map((line) => {
      const raw = JSON.parse(line) as Partial<HttpRequestRecord> & { headers?: unknown };
      // DumpJson writes an empty Lua table as [] rather than {}.
      const headers = raw.headers !== null && typeof raw.headers === 'object' && !Array.isArray(raw.headers)
        ? (raw.headers as Record<string, string>)
        : {};
      return { method: raw.method ?? '', uri: raw.uri ?? '', ip: raw.ip ?? '', username: raw.username ?? '', headers };
    });
    return includeHarness ? all : all.filter((r) => r.headers[HARNESS_HEADER] === undefined);
  };
  const verboseLog = async (): Promise<string> => {
    if (!recordActivity) throw new Error('startOrthanc({ recordActivity: false }) does not count DICOM traffic');
    return readIfExists(logFile);
  };

  const server: OrthancServer = {
    httpUrl,
    httpPort,
    dicomPort,
    aeTitle,
    dir,
    dicomwebUrl: `${httpUrl}/dicom-web`,
    wadoUrl: `${httpUrl}/wado`,
    logFile,
    config,
    async httpRequests(opts = {}) {
      return (await records(opts.includeHarness ?? false)).map((r) => `${r.method} ${r.uri}`);
    },
    async httpRequestDetails(opts = {}) {
      return records(opts.includeHarness ?? false);
    },
    async dicomAssociations() {
      return parseDicomLog(await verboseLog()).associations;
    },
    async dicomConnections() {
      return parseDicomLog(await verboseLog()).connections;
    },
    async dicomCommands() {
      return parseDicomLog(await verboseLog()).commands;
    },
    async activity() {
      const dicom = parseDicomLog(await verboseLog());
      return {
        httpRequests: await server.httpRequests(),
        dicomConnections: dicom.connections,
        dicomAssociations: dicom.associations,
        dicomCommands: dicom.commands,
      };
    },
    log: () => readIfExists(logFile),
    stop,
    async kill() {
      if (exited) return;
      child.kill('SIGKILL');
      await exitPromise;
      running.delete(entry);
    },
    async restart() {
      if (!exited) throw new Error('Orthanc is running: kill() it first');
      spawnChild();
      await ready(options.startTimeoutMs ?? 60_000);
    },
  };
  return server;
}

/**
 * Starts Debian's Orthanc 1.10 in a fresh temp directory: HTTP on a free loopback port
 * (`RemoteAccessAllowed: false`), DICOM on a free port, DICOMweb plugin under `/dicom-web/`
 * and WADO-URI under `/wado`, no authentication, `SyncStorageArea: false`, `TCP_NODELAY=1`.
 * Resolves once `GET /system` answers. Always `stop()` it (e.g. in `t.teardown`).
 *
 * Set `PGW_KEEP_ORTHANC=1` to keep the temp directory (config, logs) after `stop()`.
 */
export function startOrthanc(options: OrthancOptions = {}): Promise<OrthancServer> {
  if (!existsSync(ORTHANC_BINARY)) {
    return Promise.reject(new Error(`${ORTHANC_BINARY} not found: run scripts/install-deps.sh`));
  }
  return launch(options, 1);
}

/** Sends a request to Orthanc's REST API marked as the harness's own (left out of `httpRequests()`). */
export function orthancFetch(orthanc: Pick<OrthancServer, 'httpUrl'>, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set(HARNESS_HEADER, '1');
  return fetch(`${orthanc.httpUrl}${path}`, { ...init, headers });
}

async function expectOk(response: Response, what: string): Promise<Response> {
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status} ${await response.text()}`);
  return response;
}

/** What Orthanc answers to `POST /instances`. */
export interface UploadResult {
  /** Orthanc's instance identifier. */
  ID: string;
  ParentStudy: string;
  ParentSeries: string;
  ParentPatient: string;
  /** `Success` or `AlreadyStored`. */
  Status: string;
}

/** Stores a Part-10 file in Orthanc directly through its REST API (`POST /instances`), for test set-up. */
export async function uploadInstance(orthanc: Pick<OrthancServer, 'httpUrl'>, file: Uint8Array): Promise<UploadResult> {
  const response = await expectOk(
    await orthancFetch(orthanc, '/instances', {
      method: 'POST',
      headers: { 'content-type': 'application/dicom' },
      // Buffers are typed over ArrayBufferLike; fetch accepts any of them at run time.
      body: file as Uint8Array<ArrayBuffer>,
    }),
    'POST /instances',
  );
  const result = (await response.json()) as UploadResult;
  if (result.Status !== 'Success' && result.Status !== 'AlreadyStored') {
    throw new Error(`POST /instances: status ${result.Status}`);
  }
  return result;
}

/** Orthanc's identifier of the instance with this SOP Instance UID, or undefined when it is not stored. */
export async function findInstanceId(
  orthanc: Pick<OrthancServer, 'httpUrl'>,
  sopInstanceUid: string,
): Promise<string | undefined> {
  const response = await expectOk(
    await orthancFetch(orthanc, '/tools/find', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Level: 'Instance', Query: { SOPInstanceUID: sopInstanceUid } }),
    }),
    'POST /tools/find',
  );
  const ids = (await response.json()) as string[];
  return ids[0];
}

/**
 * The Part-10 file Orthanc stored for this SOP Instance UID (`GET /instances/{id}/file`), or
 * undefined when Orthanc has no such instance. Orthanc writes its own file meta group 0002:
 * compare data sets with `datasetAfterMeta`.
 */
export async function getInstanceFile(
  orthanc: Pick<OrthancServer, 'httpUrl'>,
  sopInstanceUid: string,
): Promise<Buffer | undefined> {
  const id = await findInstanceId(orthanc, sopInstanceUid);
  if (id === undefined) return undefined;
  const response = await expectOk(await orthancFetch(orthanc, `/instances/${id}/file`), `GET /instances/${id}/file`);
  return Buffer.from(await response.arrayBuffer());
}

/** Number of instances Orthanc stores (`GET /statistics`). */
export async function countInstances(orthanc: Pick<OrthancServer, 'httpUrl'>): Promise<number> {
  const response = await expectOk(await orthancFetch(orthanc, '/statistics'), 'GET /statistics');
  return ((await response.json()) as { CountInstances: number }).CountInstances;
}
