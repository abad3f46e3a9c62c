// Test helper: a real Prometheus server (Debian prometheus) scraping targets every second, storage in a temp dir.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './ports.js';
import { startProcess, waitFor } from './tools.js';

export interface PrometheusServer {
  readonly url: string;
  /** GET /api/v1/query; resolves with `data.result`. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` (host:port, path /metrics) as job "pacs-gateway". */
export async function startPrometheus(targets: readonly string[], ruleFiles: readonly string[] = []): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-prometheus-'));
  const port = await freePort();
  writeFileSync(join(dir, 'prometheus.yml'), stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: 'pacs-gateway', metrics_path: '/metrics', static_configs: [{ targets }] }],
  }));
  const proc = await startProcess('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await fetch(`${url}/-/ready`)).ok, 30_000, 200);
  } catch (err) {
    await proc.stop();
    throw new Error(`prometheus did not start: ${proc.stderr()}`, { cause: err });
  }
  return {
    url,
    async query(expr) {
      const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await r.json() as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (body.status !== 'success') throw new Error(`query ${expr} failed: ${JSON.stringify(body)}`);
      return body.data.result;
    },
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
