// log.flushMs as an admin meets it: the gateway process gathers its log and audit lines for a while,
// writes them without being asked, and loses none of them when it is stopped mid-gathering.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { ensureDevCertificates } from '../../src/tls/dev-certs.js';
import { startReplica } from '../helpers/replica.js';
import { waitFor } from '../helpers/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'pgw-log-flush-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'certs'));
ensureDevCertificates({ cert: join(dir, 'certs/server.crt'), key: join(dir, 'certs/server.key'), clientCa: join(dir, 'certs/ca.crt'), caKey: join(dir, 'certs/ca.key') });
const caPem = readFileSync(join(dir, 'certs/ca.crt'), 'utf8');
writeFileSync(join(dir, 'users.yaml'), stringify({ users: {} }));
writeFileSync(join(dir, 'devices.yaml'), stringify({ devices: {} }));

function config(name: string, flushMs: number): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({
    listen: { https: { host: '127.0.0.1', port: 0 }, dicom: { host: '127.0.0.1', port: 0 }, metrics: { host: '127.0.0.1', port: 0, enabled: false } },
    tls: { cert: 'certs/server.crt', key: 'certs/server.key', clientCa: 'certs/ca.crt', autoGenerate: false },
    // Nothing listens there: every request below is refused before the PACS would be asked.
    upstream: { dicomweb: 'http://127.0.0.1:9/dicom-web', dicom: { host: '127.0.0.1', port: 9, aeTitle: 'NONE' } },
    users: { backend: 'file', file: 'users.yaml' }, devices: { file: 'devices.yaml' },
    log: { level: 'info', flushMs },
  }));
  return file;
}

/** Refused requests: each writes an authz.http audit line with its own request id. */
async function refusals(request: (m: string, p: string) => Promise<{ status: number }>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await request('GET', `/dicom-web/studies?PatientID=flush-${i}`);
    if (r.status !== 401) throw new Error(`expected 401, got ${r.status}`);
  }
}

t.test('the lines of a stopped gateway are all written, however long log.flushMs is', async (t) => {
  const gw = await startReplica({ name: 'long-flush', configFile: config('long', 1000), cwd: dir, caPem });
  await refusals(gw.request, 20);
  // SIGTERM at once: the 20 refusals are still being gathered (1 s), and must all be written.
  const ended = await gw.stop();
  t.equal(ended.code, 0, `stopped cleanly (stderr: ${ended.stderr.slice(0, 300)})`);
  const refused = gw.auditEvents('authz.http').filter((e) => e.decision === 'deny');
  t.equal(refused.length, 20, 'every refusal has its audit line');
  t.ok(gw.logs().some((l) => l['msg'] === 'stopping'), 'and so does the stop itself');
});

t.test('gathered lines are written without a stop, once log.flushMs has passed', async (t) => {
  const gw = await startReplica({ name: 'short-flush', configFile: config('short', 50), cwd: dir, caPem });
  t.teardown(() => gw.stop());
  await refusals(gw.request, 3);
  const written = await waitFor(() => {
    const n = gw.auditEvents('authz.http').filter((e) => e.decision === 'deny').length;
    return n === 3 ? n : undefined;
  }, 10_000);
  t.equal(written, 3, 'the three refusals reach stdout while the gateway keeps running');
});
