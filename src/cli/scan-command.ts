// `pacs-gateway scan`: which of these hosts' DICOM and PACS web ports answer without authentication.

import { closeSync, openSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GatewayError } from '../errors.js';
import { parsePorts } from '../scan/ports.js';
import { formatJson } from '../scan/report-json.js';
import { toSarif } from '../scan/report-sarif.js';
import { formatTable } from '../scan/report-table.js';
import { scan, SCAN_DEFAULTS } from '../scan/scanner.js';
import { parseTargets } from '../scan/targets.js';
import { DEFAULT_PORTS } from '../scan/types.js';
import { packageVersion } from './version.js';

export const SCAN_USAGE = `pacs-gateway scan TARGET… [options]

Finds which DICOM and PACS web services answer without authentication. TARGET: a host name,
an address, or a CIDR range (at most 1,024 addresses per run, a /22, unless --allow-large).
Scan only networks you are responsible for.

  --ports LIST          ports or ranges (default ${DEFAULT_PORTS.join(',')})
  --aet TITLE           a called AE title to try first (repeatable; then ANY-SCP, ORTHANC, DCM4CHEE)
  --deep                also send an unauthenticated C-FIND at STUDY level (reports only the count)
  --json                print {"scannedAt","results":[…],"summary":{…}} instead of the table
  --sarif FILE          also write a SARIF 2.1.0 log to FILE
  --concurrency N       ports probed at once (default ${SCAN_DEFAULTS.concurrency}, 1–256)
  --rate N/s            new connections per second (default ${SCAN_DEFAULTS.ratePerSecond}/s, at most 1000)
  --timeout MS          wait per step: connect, handshake, answer (default ${SCAN_DEFAULTS.timeoutMs}, 50–60000)
  --allow-large         allow up to 65,536 addresses (a /16)

Exit codes: 0 nothing exposed, 3 something exposed, 1 error, 2 usage error.`;

type Out = (s: string) => void;

/** Host × port pairs per run: a /16 on the ten default ports. */
const MAX_PROBES = 655_360;

function intOption(name: string, text: string | undefined, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new GatewayError('ERR_USAGE', `--${name} must be a whole number from ${min} to ${max} (got "${text}")`);
  return n;
}

function rateOption(text: string | undefined): number {
  if (text === undefined) return SCAN_DEFAULTS.ratePerSecond;
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(text);
  const n = Number(m?.[1]);
  if (m === null || !(n > 0) || n > 1000) throw new GatewayError('ERR_USAGE', `--rate must be a number of connections per second, above 0 and at most 1000, e.g. 20/s (got "${text}")`);
  return n;
}

function aetOption(values: readonly string[] | undefined): string[] {
  for (const v of values ?? []) {
    // PS3.5 Table 6.2-1 (AE): 1–16 characters, no backslash or control characters, not all spaces.
    if (!/^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(v) || v.trim() === '') throw new GatewayError('ERR_USAGE', `--aet "${v}" is not an AE title (1–16 characters, no backslash)`);
  }
  return [...(values ?? [])];
}

function cannotWrite(path: string, e: unknown): Error {
  return new Error(`cannot write the SARIF log to ${path}: ${(e as Error).message}`, { cause: e });
}

/** Opens (creates or truncates) the SARIF log before the scan: a long scan must not end in "cannot write". */
function openSarif(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (e) {
    throw cannotWrite(path, e);
  }
}

/** Runs a scan; returns 3 when something is exposed, else 0. */
export async function scanCommand(argv: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      ports: { type: 'string' }, json: { type: 'boolean' }, sarif: { type: 'string' },
      concurrency: { type: 'string' }, timeout: { type: 'string' }, rate: { type: 'string' },
      aet: { type: 'string', multiple: true }, deep: { type: 'boolean' }, 'allow-large': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    out(SCAN_USAGE);
    return 0;
  }
  const { targets, count } = parseTargets(positionals, { allowLarge: values['allow-large'] === true });
  const ports = values.ports === undefined ? [...DEFAULT_PORTS] : parsePorts(values.ports);
  if (count * ports.length > MAX_PROBES) {
    throw new GatewayError('ERR_SCAN_TARGET', `${count.toLocaleString('en')} addresses × ${ports.length} ports is ${(count * ports.length).toLocaleString('en')} probes; at most ${MAX_PROBES.toLocaleString('en')} per run (fewer ports, or split the ranges)`);
  }
  const concurrency = intOption('concurrency', values.concurrency, 1, 256, SCAN_DEFAULTS.concurrency);
  const timeoutMs = intOption('timeout', values.timeout, 50, 60_000, SCAN_DEFAULTS.timeoutMs);
  const ratePerSecond = rateOption(values.rate);
  const calledAets = aetOption(values.aet);
  const version = packageVersion();
  const sarifFd = values.sarif === undefined ? undefined : openSarif(values.sarif);
  err(`pacs-gateway scan ${version}: ${count} address${count === 1 ? '' : 'es'} × ${ports.length} port${ports.length === 1 ? '' : 's'}, concurrency ${concurrency}, ${ratePerSecond} connections/s, timeout ${timeoutMs} ms${values.deep === true ? ', deep (C-FIND count)' : ''}. Scan only networks you are responsible for.`);
  const report = await scan({ targets, ports, concurrency, ratePerSecond, timeoutMs, calledAets, deep: values.deep === true, version });
  // The report first: should the log still fail to write (a full disk), the scan's result is not lost.
  out(values.json === true ? formatJson(report) : formatTable(report));
  if (sarifFd !== undefined) {
    const sarif = toSarif(report, { version, endedAt: new Date().toISOString(), commandLine: ['pacs-gateway', 'scan', ...argv].join(' ') });
    try {
      writeFileSync(sarifFd, `${JSON.stringify(sarif, null, 2)}\n`);
    } catch (e) {
      throw cannotWrite(values.sarif ?? '', e);
    } finally {
      closeSync(sarifFd);
    }
  }
  return report.summary.exposed > 0 ? 3 : 0;
}
