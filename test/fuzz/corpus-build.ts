// `npm run fuzz:corpus`: records what real clients send (dcmtk, curl) through a recording TCP proxy to a real Orthanc, and writes the seed corpus.
//
// The instances are synthetic (dcmjs, random pixels, no patient data). What is committed in
// test/fuzz/corpus/ is the output of this script; run it again after a protocol change.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PduReader } from '../../src/dicom/pdu-reader.js';
import { ItemType } from '../../src/dicom/constants.js';
import { parseAssociateRq } from '../../src/dicom/associate-parse.js';
import { makeInstance, writeInstance } from '../helpers/instances.js';
import { startOrthanc } from '../helpers/orthanc.js';
import { startTcpProxy, type ProxiedConnection } from '../helpers/tcp-proxy.js';
import { run } from '../helpers/tools.js';

const OUT = join(process.cwd(), 'test/fuzz/corpus');
const written = new Map<string, number>();

function save(target: string, data: Buffer, max = 8192): void {
  if (data.length === 0) return;
  const dir = join(OUT, target);
  mkdirSync(dir, { recursive: true });
  const b = data.subarray(0, max);
  writeFileSync(join(dir, createHash('sha1').update(b).digest('hex').slice(0, 16)), b);
  written.set(target, (written.get(target) ?? 0) + 1);
}

/** Splits a recorded DICOM stream into whole PDUs, and collects the command sets it carries. */
function pdus(stream: Buffer): { pdus: Buffer[]; commands: Buffer[] } {
  const out: Buffer[] = [];
  const commands: Buffer[] = [];
  let cmd: Buffer[] = [];
  let current: { pcCommand: boolean } = { pcCommand: false };
  let pdataStart = -1;
  let offset = 0;
  const r = new PduReader({
    onPdu: (_t, raw) => { out.push(Buffer.from(raw)); offset += raw.length; },
    onPDataStart: (length) => { pdataStart = offset; offset += 6 + length; out.push(stream.subarray(pdataStart, offset)); },
    onPdv: (pdv) => { current = { pcCommand: pdv.isCommand }; },
    onFragment: (d) => { if (current.pcCommand) cmd.push(Buffer.from(d)); },
    onPdvEnd: (pdv) => { if (pdv.isCommand && pdv.isLast) { commands.push(Buffer.concat(cmd)); cmd = []; } },
    onPDataEnd: () => undefined,
  }, { maxAssociateBytes: 1 << 20, maxPDataBytes: 1 << 24 });
  r.push(stream);
  return { pdus: out, commands };
}

function dicomConnection(c: ProxiedConnection): void {
  const client = Buffer.concat(c.fromClient);
  const server = Buffer.concat(c.fromServer);
  save('pdu-reader', client);
  save('pdu-reader', server);
  save('association', client);
  const fromClient = pdus(client);
  const fromServer = pdus(server);
  const rq = fromClient.pdus[0];
  if (rq !== undefined) {
    save('associate-rq', rq);
    const id = parseAssociateRq(rq).userItems.find((s) => s.type === ItemType.UserIdentityRq);
    if (id !== undefined) save('user-identity', id.value);
  }
  if (fromServer.pdus[0] !== undefined && fromServer.pdus[0][0] === 0x02) save('associate-ac', fromServer.pdus[0]);
  for (const cmd of [...fromClient.commands, ...fromServer.commands]) save('command-set', cmd);
}

function httpConnection(c: ProxiedConnection): void {
  const client = Buffer.concat(c.fromClient);
  const server = Buffer.concat(c.fromServer);
  const end = client.indexOf('\r\n\r\n');
  if (end < 0) return;
  const head = client.subarray(0, end + 4);
  save('request-head', head);
  const [method = 'GET', target = '/'] = head.toString('latin1').split('\r\n')[0]?.split(' ') ?? [];
  const methodByte = Math.max(0, ['GET', 'HEAD', 'POST', 'DELETE', 'PUT', 'OPTIONS', 'get'].indexOf(method));
  save(target.startsWith('/wado') ? 'wado-uri' : 'classify-dicomweb', Buffer.concat([Buffer.from([methodByte]), Buffer.from(target, 'latin1')]));
  const lines = head.toString('latin1').split('\r\n');
  const auth = lines.find((l) => l.toLowerCase().startsWith('authorization:'))?.slice(14).trim();
  const cookie = lines.find((l) => l.toLowerCase().startsWith('cookie:'))?.slice(7).trim();
  if (auth !== undefined || cookie !== undefined) save('cookies-bearer', Buffer.from(`${auth ?? 'Bearer a.b.c'}\n${cookie ?? ''}`, 'latin1'));
  if (/transfer-encoding: chunked/i.test(head.toString('latin1'))) save('body-framer', client.subarray(end + 4), 4096);
  const rend = server.indexOf('\r\n\r\n');
  if (rend >= 0) save('response-head', server.subarray(0, rend + 4));
  if (rend >= 0 && /transfer-encoding: chunked/i.test(server.toString('latin1', 0, rend))) save('body-framer', server.subarray(rend + 4), 4096);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'pgw-corpus-'));
  const orthanc = await startOrthanc();
  const dicom = await startTcpProxy({ target: { host: '127.0.0.1', port: orthanc.dicomPort }, record: true });
  const http = await startTcpProxy({ target: { host: '127.0.0.1', port: orthanc.httpPort }, record: true });
  try {
    for (const name of readdirSync(OUT, { withFileTypes: true })) if (name.isDirectory()) rmSync(join(OUT, name.name), { recursive: true });
    const instance = makeInstance({ pixelBytes: 256, patientName: 'Corpus^Synthetic', patientId: 'CORPUS-1' });
    const file = await writeInstance(work, instance);
    const at = ['127.0.0.1', String(dicom.port)];
    const dcmtk = [
      ['echoscu', ['-aet', 'FUZZ', '-aec', 'ORTHANC', ...at]],
      ['storescu', ['-aet', 'FUZZ', '-aec', 'ORTHANC', ...at, file]],
      ['storescu', ['-aet', 'FUZZ', '-aec', 'ORTHANC', '--user', 'rita', '--password', 'correct-horse-battery123456', '-rsp', ...at, file]],
      ['storescu', ['-aet', 'FUZZ', '-aec', 'ORTHANC', '-xi', '--max-pdu', '4096', ...at, file]],
      ['findscu', ['-aet', 'FUZZ', '-aec', 'ORTHANC', '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=CORPUS-1', '-k', 'StudyInstanceUID', ...at]],
      ['findscu', ['-aet', 'FUZZ', '-aec', 'ORTHANC', '-S', '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${instance.studyUid}`, '-k', 'SeriesInstanceUID', ...at]],
    ] as const;
    for (const [cmd, args] of dcmtk) {
      const r = await run(cmd, args, { timeoutMs: 30_000 });
      if (r.code !== 0) console.error(`${cmd} exited ${r.code}: ${r.stderr.slice(0, 300)}`);
    }
    const base = `http://127.0.0.1:${http.port}`;
    const path = `/dicom-web/studies/${instance.studyUid}/series/${instance.seriesUid}/instances/${instance.sopInstanceUid}`;
    const stow = join(work, 'stow.body');
    writeFileSync(stow, Buffer.concat([Buffer.from('--corpus\r\nContent-Type: application/dicom\r\n\r\n'), instance.buffer, Buffer.from('\r\n--corpus--\r\n')]));
    const curls: string[][] = [
      [`${base}/dicom-web/studies?PatientID=CORPUS-1&includefield=00081030&limit=10`, '-H', 'Accept: application/dicom+json', '-H', 'Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzaWQiOiJjb3JwdXMifQ.c2lnbmF0dXJl'],
      [`${base}/dicom-web/studies/${instance.studyUid}/series`, '-b', '__Host-pacs-session=eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJ4In0.c2ln; theme=dark'],
      [`${base}${path}/metadata`],
      [`${base}${path}/frames/1`, '-H', 'Accept: multipart/related; type="application/octet-stream"; transfer-syntax=*'],
      [`${base}${path}`, '-H', 'Accept: multipart/related; type="application/dicom"; transfer-syntax=*'],
      [`${base}/wado?requestType=WADO&studyUID=${instance.studyUid}&seriesUID=${instance.seriesUid}&objectUID=${instance.sopInstanceUid}&contentType=application%2Fdicom`],
      [`${base}/dicom-web/studies`, '-X', 'POST', '-H', 'Content-Type: multipart/related; type="application/dicom"; boundary=corpus', '-H', 'Transfer-Encoding: chunked', '-H', 'Expect: 100-continue', '--data-binary', `@${stow}`],
      [`${base}/dicom-web/studies`, '-X', 'POST', '-H', 'Content-Type: multipart/related; type="application/dicom"; boundary=corpus', '--data-binary', `@${stow}`],
      [`${base}/dicom-web/studies/${instance.studyUid}`, '-I'],
    ];
    for (const args of curls) {
      const r = await run('curl', ['-s', '-o', '/dev/null', '--http1.1', ...args], { timeoutMs: 30_000 });
      if (r.code !== 0) console.error(`curl ${args[0]} exited ${r.code}`);
    }
    for (const c of dicom.connections) dicomConnection(c);
    for (const c of http.connections) httpConnection(c);
    // DER and CRL: what `pacs-gateway certs` writes (public material only: certificates and CRLs, never keys).
    const certs = mkdtempSync(join(work, 'certs-'));
    writeFileSync(join(certs, 'gateway.yaml'), 'tls: {clientCa: certs/ca.crt}\ndevices: {file: devices.yaml}\nroles: {technologist: [echo, store]}\n');
    const cli = (args: string[]): Promise<unknown> => run(process.execPath, [join(process.cwd(), 'bin/pacs-gateway.js'), 'certs', ...args, '--config', join(certs, 'gateway.yaml')], { cwd: certs, timeoutMs: 120_000, input: 'corpus-password-1\ncorpus-password-1\n' });
    await cli(['init', '--cn', 'Corpus CA']);
    save('crl', readFileSync(join(certs, 'certs/ca.crl')));
    await cli(['issue-client', 'ct1', '--role', 'technologist', '--ae', 'CT01', '--p12-password-stdin']);
    await cli(['revoke', 'ct1', '--reason', 'keyCompromise']);
    const crl = readFileSync(join(certs, 'certs/ca.crl'));
    save('crl', crl);
    const der = Buffer.from(crl.toString('latin1').replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64');
    save('crl', der);
    save('der', der);
    save('der', Buffer.from(readFileSync(join(certs, 'certs/ca.crt'), 'latin1').replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64'));
    save('devices-file', readFileSync(join(certs, 'devices.yaml')));
    for (const [t, n] of [...written].sort()) console.log(`${t}: ${n} files`);
  } finally {
    await dicom.close();
    await http.close();
    await orthanc.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => { console.error(err); process.exit(1); });
