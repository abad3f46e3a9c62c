// HTTP framing differential: for each request-smuggling mutation, what the gateway's edge forwards (or refuses) against
// how node's llhttp (strict), nginx (reverse proxy) and Orthanc frame the same bytes, and how Orthanc frames what the
// edge forwarded. The edge may refuse what others accept; it must never forward a message a reference frames differently.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { dicomwebMounts, type GuardDeps } from '../../src/http/dicomweb-guard.js';
import { createEdgeServer } from '../../src/http/edge/edge-server.js';
import { SessionService } from '../../src/identity/sessions.js';
import { MemoryStore } from '../../src/state/memory-store.js';
import { testPki } from '../dicom/helpers/pki.js';
import { startOrthanc } from '../helpers/orthanc.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { framingCorpus } from './corpus.js';
import { exchange, startNginx, startRecorder, statuses, type Framed } from './observers.js';

/**
 * Disagreements that are not refusals by the edge, each with the reason it is safe. Each must still
 * occur (a documented difference that went away is reported, so this list stays true).
 */
const DOCUMENTED: Readonly<Record<string, string>> = Object.freeze({
  // RFC 9110 §5.6.3: OWS is SP or HTAB. nginx 1.22 skips only spaces before a Transfer-Encoding value and
  // answers 501; llhttp accepts; the edge forwards the field as "Transfer-Encoding: chunked" and Orthanc,
  // replayed the forwarded bytes, frames them as the edge does. Stricter than the edge, never different.
  'TE tab before value': 'nginx refuses HTAB as optional whitespace (501); the edge forwards a normalised field',
});

const show = (f: readonly Framed[]): string => f.map((r) => `${r.method} ${r.target} [${r.body}]`).join('; ') || '—';
const path = (target: string): string => target.split('?')[0] as string;

t.test('HTTP framing differential: edge vs llhttp, nginx and Orthanc', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-differential-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const orthanc = await startOrthanc();
  t.teardown(() => orthanc.stop());
  // The edge, with a real guard (a session in a memory store, a role allowed everything) in front of a recording upstream.
  const edgeUpstream = await startRecorder();
  t.teardown(() => edgeUpstream.close());
  const edgeWire = await startTcpProxy({ target: { host: '127.0.0.1', port: edgeUpstream.port }, record: true });
  t.teardown(() => edgeWire.close());
  const store = new MemoryStore();
  t.teardown(() => store.close());
  const sessions = new SessionService({ store, clock: Date.now, signingKey: randomBytes(32), idleMs: 3_600_000, maxMs: 7_200_000, dimseTokenMs: 60_000 });
  const dora = { username: 'dora', role: 'all', disabled: false, passwordHash: 'not-checked-here', totpSecret: 'NOTCHECKED' };
  const { token } = await sessions.create(dora, '127.0.0.1');
  const guard = {
    sessions, users: { get: async () => dora }, identity: {}, cookieName: '__Host-pacs-session',
    audit: { record: () => undefined, alert: () => undefined }, roles: () => ({ all: { actions: ['search', 'retrieve', 'store', 'delete'], moveDestinations: [], storeSopClasses: [] } }),
  } as unknown as GuardDeps;
  const pki = testPki();
  const edge = createEdgeServer({
    tls: { cert: pki.server.certPem, key: pki.server.keyPem },
    mounts: dicomwebMounts(`http://127.0.0.1:${edgeWire.port}/dicom-web`, `http://127.0.0.1:${edgeWire.port}/wado`),
    guard, trustProxy: false, controlPlane: (s) => { s.destroy(); }, logger: pino({ level: 'silent' }),
    upstreamTimeoutMs: 5000, keepAliveMs: 5000, upstreamConnections: 4,
  });
  const edgeAddr = await edge.listen('127.0.0.1', 0);
  t.teardown(() => edge.close());
  const llhttp = await startRecorder();
  t.teardown(() => llhttp.close());
  const nginxUpstream = await startRecorder();
  t.teardown(() => nginxUpstream.close());
  const nginx = await startNginx(dir, nginxUpstream.port);
  t.teardown(() => nginx.stop());

  const cases = framingCorpus({ token });
  const rows: string[] = [];
  let edgeRefused = 0;
  let agreed = 0;
  const disagreements = new Map<string, string>();
  for (const c of cases) {
    // The four parties see the same bytes at once; each has its own recorder, so nothing mixes.
    const marks = { edge: edgeUpstream.seen.length, wire: edgeWire.connections.length, llhttp: llhttp.seen.length, nginx: nginxUpstream.seen.length, orthanc: (await orthanc.httpRequests()).length };
    const [edgeAnswer, llhttpAnswer, nginxAnswer, orthancAnswer] = await Promise.all([
      exchange(edgeAddr.port, c.bytes, { tls: true, responses: 2 }), exchange(llhttp.port, c.bytes, { responses: 2 }), exchange(nginx.port, c.bytes, { responses: 2 }), exchange(orthanc.httpPort, c.bytes, { responses: 3 }),
    ]);
    const forwarded = edgeUpstream.seen.slice(marks.edge);
    const byLlhttp = llhttp.seen.slice(marks.llhttp);
    const byNginx = nginxUpstream.seen.slice(marks.nginx);
    const byOrthanc = (await orthanc.httpRequests()).slice(marks.orthanc);
    // What the edge put on the wire to its upstream, replayed to Orthanc: Orthanc must see the same requests.
    const wire = Buffer.concat(edgeWire.connections.slice(marks.wire).flatMap((x) => x.fromClient));
    const replayMark = (await orthanc.httpRequests()).length;
    if (wire.length > 0) await exchange(orthanc.httpPort, wire, { responses: Math.max(1, forwarded.length) });
    const replayed = (await orthanc.httpRequests()).slice(replayMark);

    const problems: string[] = [];
    for (const [name, ref] of [['llhttp', byLlhttp], ['nginx', byNginx]] as const) {
      forwarded.forEach((r, i) => {
        const o = ref[i];
        if (o === undefined || o.method !== r.method || o.target !== r.target || o.body !== r.body) problems.push(`${name} frames request ${i + 1} as ${o === undefined ? 'nothing' : `${o.method} ${o.target} [${o.body}]`}`);
      });
    }
    const expected = forwarded.map((r) => `${r.method} ${path(r.target)}`);
    // A body the edge refuses part-way (a malformed chunk) was already streaming: Orthanc then saw that
    // request's head and the edge cut the connection. Only that one unfinished request may follow.
    const refusedMidBody = statuses(edgeAnswer).some((s) => s >= 400);
    const cutOff = replayed.length === expected.length + 1 && refusedMidBody && replayed.at(-1) === `${c.bytes.toString('latin1').split(' ')[0]} /dicom-web/studies`;
    if (JSON.stringify(replayed.slice(0, expected.length)) !== JSON.stringify(expected) || (replayed.length !== expected.length && !cutOff)) {
      problems.push(`Orthanc frames the forwarded bytes as ${JSON.stringify(replayed)}`);
    }
    if ([...forwarded.map((r) => r.target), ...replayed].some((x) => x.includes('/dicom-web/series'))) problems.push('the request hidden in a body reached the upstream as a request');
    if (forwarded.length === 0) edgeRefused++;
    else if (problems.length === 0) agreed++;
    if (problems.length > 0) disagreements.set(c.name, problems.join('; '));
    rows.push(`| ${c.name} | ${forwarded.length === 0 ? `refused ${statuses(edgeAnswer).join(',')}` : show(forwarded)} | ${byLlhttp.length === 0 ? `refused ${statuses(llhttpAnswer).join(',')}` : show(byLlhttp)}${llhttp.refused > 0 ? '' : ''} | ${byNginx.length === 0 ? `refused ${statuses(nginxAnswer).join(',')}` : show(byNginx)} | ${byOrthanc.join(', ') || '—'} (${statuses(orthancAnswer).join(',')}) |`);
  }
  t.comment(`| case | edge forwards | llhttp (strict) | nginx forwards | Orthanc sees (statuses) |\n|---|---|---|---|---|\n${rows.join('\n')}`);
  t.comment(`${cases.length} cases: the edge refused ${edgeRefused}, forwarded ${agreed} framed as every reference frames them, ${disagreements.size} disagreements`);
  for (const [name, problem] of disagreements) t.ok(name in DOCUMENTED, `${name}: the edge forwarded what a reference frames differently: ${problem}`);
  for (const name of Object.keys(DOCUMENTED)) t.ok(disagreements.has(name), `documented disagreement "${name}" still occurs`);
  t.ok(edgeRefused > 0 && agreed > 0, 'both refusals and agreements were seen (the harness observes both)');
});
