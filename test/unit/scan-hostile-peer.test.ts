// The scanner is a client of whatever answers on a port: a hostile peer must not make it hang,
// allocate without bound, or keep its data. Raw TCP peers built from the project's PDU builders.

import { createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { buildRelease } from '../../src/dicom/abort.js';
import { buildAssociateAc } from '../../src/dicom/associate-build.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { CommandField, CommandTag, PduType, RESPONSE_BIT } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { openPlain } from '../../src/scan/connection.js';
import { MAX_COUNTED_MATCHES, probeDicom, SopClass } from '../../src/scan/dicom-probe.js';
import { probeContext } from '../../src/scan/scanner.js';
import { acceptVerificationAndFind, echoResponse, listenOnLoopback, onPduTypes } from '../helpers/scan.js';

function peer(t: Test, onConnection: (s: Socket) => void): Promise<number> {
  return listenOnLoopback(t, createServer(onConnection));
}

const ctx = (deep: boolean) => probeContext({ version: '0.0.0-test', timeoutMs: 2000, ratePerSecond: 1000, deep });

t.test('a peer that floods C-FIND matches and ignores C-CANCEL: counted up to the cap, then the probe stops', async (t) => {
  const secret = 'Hostile^Patient^Name';
  const port = await peer(t, (s) => {
    s.once('data', () => {
      s.write(buildAssociateAc({ calledAe: 'ANY-SCP', callingAe: 'PGW-SCAN', presentationContexts: [
        { id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2' }, { id: 3, result: 0, transferSyntax: '1.2.840.10008.1.2' },
      ] }));
      const echo = buildPData(1, true, buildCommandSet([
        [CommandTag.AffectedSopClassUid, { ui: SopClass.verification }], [CommandTag.CommandField, { us: CommandField.CEchoRq | RESPONSE_BIT }],
        [CommandTag.MessageIdBeingRespondedTo, { us: 1 }], [CommandTag.CommandDataSetType, { us: 0x0101 }], [CommandTag.Status, { us: 0 }],
      ]));
      const pending = Buffer.concat([
        buildPData(3, true, buildCommandSet([
          [CommandTag.AffectedSopClassUid, { ui: SopClass.studyRootFind }], [CommandTag.CommandField, { us: CommandField.CFindRq | RESPONSE_BIT }],
          [CommandTag.MessageIdBeingRespondedTo, { us: 2 }], [CommandTag.CommandDataSetType, { us: 0x0001 }], [CommandTag.Status, { us: 0xff00 }],
        ])),
        // (0010,0010) Patient's Name, implicit VR LE: the scanner must drop it unread.
        buildPData(3, false, Buffer.concat([Buffer.from([0x10, 0x00, 0x10, 0x00, secret.length, 0, 0, 0]), Buffer.from(secret)])),
      ]);
      let sentEcho = false;
      s.on('data', () => {
        if (sentEcho) return;
        sentEcho = true;
        s.write(echo);
        // Then pending matches for as long as the scanner reads them, whatever it says.
        const flood = (): void => { while (!s.destroyed && s.write(pending)); };
        s.on('drain', flood);
        flood();
      });
    });
  });
  const c = ctx(true);
  const ep = { host: '127.0.0.1', address: '127.0.0.1', port, servername: undefined };
  const attempts = await probeDicom(() => openPlain(ep, c), c);
  t.equal(attempts.length, 1);
  const o = attempts[0]?.outcome;
  t.equal(o?.kind, 'accepted');
  if (o?.kind !== 'accepted') return;
  t.same(o.echo, { kind: 'status', status: 0 });
  t.match(o.find, { kind: 'matches', truncated: true });
  t.ok(o.find?.kind === 'matches' && o.find.count >= MAX_COUNTED_MATCHES, 'at least the cap');
  t.notOk(JSON.stringify(attempts).includes(secret), 'the identifiers are never kept');
});

t.test('a peer that announces a 2 GB PDU: refused before anything is allocated', async (t) => {
  const port = await peer(t, (s) => {
    s.once('data', () => {
      const head = Buffer.alloc(6);
      head.writeUInt8(0x02, 0);
      head.writeUInt32BE(0x7fffffff, 2);
      s.write(head);
    });
  });
  const c = ctx(false);
  const ep = { host: '127.0.0.1', address: '127.0.0.1', port, servername: undefined };
  const attempts = await probeDicom(() => openPlain(ep, c), c);
  t.match(attempts, [{ calledAe: 'ANY-SCP', outcome: { kind: 'not-dicom', http: false, detail: /exceeds the limit of 65536 bytes/ } }]);
});


const endpoint = (port: number) => ({ host: '127.0.0.1', address: '127.0.0.1', port, servername: undefined });
const IVRLE = '1.2.840.10008.1.2';

/** A C-FIND pending response with a one-element identifier (a Study Instance UID). */
const findPending = (): Buffer => Buffer.concat([
  buildPData(3, true, buildCommandSet([
    [CommandTag.AffectedSopClassUid, { ui: SopClass.studyRootFind }], [CommandTag.CommandField, { us: CommandField.CFindRq | RESPONSE_BIT }],
    [CommandTag.MessageIdBeingRespondedTo, { us: 2 }], [CommandTag.CommandDataSetType, { us: 0x0001 }], [CommandTag.Status, { us: 0xff00 }],
  ])),
  buildPData(3, false, Buffer.from([0x20, 0x00, 0x0d, 0x00, 0x02, 0, 0, 0, 0x31, 0x00])),
]);

t.test('a peer that drips C-FIND matches just inside the timeout cannot hold the probe past its deadline', async (t) => {
  let timer: NodeJS.Timeout | undefined;
  t.teardown(() => clearInterval(timer));
  const port = await peer(t, (s) => {
    let pData = 0;
    onPduTypes(s, (type) => {
      if (type === PduType.AssociateRq) s.write(acceptVerificationAndFind());
      if (type !== PduType.PData) return;
      pData++;
      if (pData === 1) s.write(echoResponse());
      // The C-FIND request: one pending match every 50 ms (a tenth of the timeout), forever.
      if (pData === 2) timer = setInterval(() => { if (!s.destroyed) s.write(findPending()); }, 50);
    });
    s.on('close', () => clearInterval(timer));
  });
  const c = probeContext({ version: '0.0.0-test', timeoutMs: 500, ratePerSecond: 1000, deep: true });
  const attempts = await probeDicom(() => openPlain(endpoint(port), c), c);
  const o = attempts[0]?.outcome;
  t.equal(o?.kind, 'accepted');
  if (o?.kind !== 'accepted') return;
  t.match(o.find, { kind: 'matches', truncated: true }, 'reported as "at least" the matches counted in time');
  t.ok(o.find?.kind === 'matches' && o.find.count > 0 && o.find.count < MAX_COUNTED_MATCHES, `stopped by the deadline, not by the match cap (${JSON.stringify(o.find)})`);
});

t.test('a peer that answers A-RELEASE-RQ with a stream of DIMSE messages is left after one timeout', async (t) => {
  let sentAfterRelease = 0;
  let timer: NodeJS.Timeout | undefined;
  t.teardown(() => clearInterval(timer));
  const port = await peer(t, (s) => {
    onPduTypes(s, (type) => {
      if (type === PduType.AssociateRq) s.write(acceptVerificationAndFind());
      else if (type === PduType.PData) s.write(echoResponse());
      else if (type === PduType.ReleaseRq) {
        // Never an A-RELEASE-RP: a C-ECHO-RSP every 100 ms (a tenth of the timeout) instead.
        timer = setInterval(() => { if (!s.destroyed) { s.write(echoResponse()); sentAfterRelease++; } }, 100);
        s.on('close', () => clearInterval(timer));
      }
    });
  });
  const c = probeContext({ version: '0.0.0-test', timeoutMs: 1000, ratePerSecond: 1000, deep: false });
  const attempts = await probeDicom(() => openPlain(endpoint(port), c), c);
  t.match(attempts, [{ outcome: { kind: 'accepted', echo: { kind: 'status', status: 0 } } }]);
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.ok(sentAfterRelease < 16, `the release wait is one timeout in all, not one per stray message (${sentAfterRelease} messages sent)`);
});

t.test('A-ASSOCIATE-AC with odd presentation contexts or a tiny maximum length: reported, never a crash', async (t) => {
  const cases: Array<{ name: string; ac: Buffer; echo: string }> = [
    { name: 'no presentation context at all', ac: buildAssociateAc({ calledAe: 'ANY-SCP', callingAe: 'PGW-SCAN', presentationContexts: [] }), echo: 'not-negotiated' },
    { name: 'only a context that was never proposed', ac: buildAssociateAc({ calledAe: 'ANY-SCP', callingAe: 'PGW-SCAN', presentationContexts: [{ id: 5, result: 0, transferSyntax: IVRLE }] }), echo: 'not-negotiated' },
    { name: 'Verification rejected (abstract syntax not supported)', ac: buildAssociateAc({ calledAe: 'ANY-SCP', callingAe: 'PGW-SCAN', presentationContexts: [{ id: 1, result: 3, transferSyntax: undefined }] }), echo: 'not-negotiated' },
    { name: 'a maximum PDU length of 8 bytes', ac: acceptVerificationAndFind(8), echo: 'status' },
  ];
  for (const k of cases) {
    const pDataLengths: number[] = [];
    const port = await peer(t, (s) => {
      onPduTypes(s, (type, length) => {
        if (type === PduType.AssociateRq) s.write(k.ac);
        if (type === PduType.PData && pDataLengths.push(length) === 1) s.write(echoResponse());
        if (type === PduType.ReleaseRq) s.end(buildRelease(PduType.ReleaseRp));
      });
    });
    const c = ctx(false);
    const attempts = await probeDicom(() => openPlain(endpoint(port), c), c);
    t.match(attempts, [{ outcome: { kind: 'accepted', echo: { kind: k.echo } } }], k.name);
    // PS3.8 Annex D.1: no P-DATA-TF longer than the peer's maximum; PS3.7 Annex F: even fragments.
    if (k.echo === 'status') t.same(pDataLengths.filter((n) => n > 8 || (n - 6) % 2 !== 0), [], `${pDataLengths.length} P-DATA-TF PDUs, each within 8 bytes with an even fragment`);
  }
});
