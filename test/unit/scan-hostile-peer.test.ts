// The scanner is a client of whatever answers on a port: a hostile peer must not make it hang,
// allocate without bound, or keep its data. Raw TCP peers built from the project's PDU builders.

import { createServer, type Server, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { buildAssociateAc } from '../../src/dicom/associate-build.js';
import { buildCommandSet } from '../../src/dicom/command-build.js';
import { CommandField, CommandTag, RESPONSE_BIT } from '../../src/dicom/constants.js';
import { buildPData } from '../../src/dicom/p-data.js';
import { openPlain } from '../../src/scan/connection.js';
import { MAX_COUNTED_MATCHES, probeDicom, SopClass } from '../../src/scan/dicom-probe.js';
import { probeContext } from '../../src/scan/scanner.js';

async function peer(t: Test, onConnection: (s: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }));
  return (server.address() as { port: number }).port;
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
