// Test helpers for `pacs-gateway scan`: run the built CLI, parse its JSON, validate SARIF against the
// OASIS SARIF 2.1.0 schema (test/fixtures/sarif-schema-2.1.0.json, JSON Schema draft-04).

import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv-draft-04';
import { run, type RunResult } from './tools.js';

const BIN = join(process.cwd(), 'bin/pacs-gateway.js');

/** `pacs-gateway ARGS…` with the built CLI. */
export function pgw(args: readonly string[], options: { cwd?: string } = {}): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args], { timeoutMs: 120_000, ...options });
}

export interface ScanJson {
  scannedAt: string;
  results: Array<{ host: string; port: number; service: string; verdict: string; evidence: string[] }>;
  summary: { exposed: number; protected: number; closed: number; unknown: number };
}

/** The result for host:port in a --json report (throws when absent). */
export function resultFor(report: ScanJson, host: string, port: number): ScanJson['results'][number] {
  const r = report.results.find((x) => x.host === host && x.port === port);
  if (r === undefined) throw new Error(`no result for ${host}:${port} in ${JSON.stringify(report)}`);
  return r;
}

// CommonJS packages: under NodeNext their ESM default import is the module object.
const Ajv = AjvDraft04.default;
const addFormats = ajvFormats.default;

let validator: ValidateFunction | undefined;

/** Validates a SARIF log; returns the schema errors (empty when valid). */
export function sarifErrors(log: unknown): unknown[] {
  if (validator === undefined) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(join(process.cwd(), 'test/fixtures/sarif-schema-2.1.0.json'), 'utf8')) as object);
  }
  return validator(log) ? [] : [...(validator.errors ?? [])];
}

/** A TCP port that accepts connections and never sends a byte (the "slow port"). Close it in teardown. */
export async function silentPort(host = '127.0.0.1'): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
