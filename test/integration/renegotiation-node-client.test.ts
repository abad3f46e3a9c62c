// Regression (issue 12 §1, review): the second way to ask for a renegotiation — node's own TLS 1.2 client,
// tlsSocket.renegotiate() — on both listeners, with a verified device certificate. The server refuses
// (no_renegotiation alert), the client's socket fails with ERR_SSL_NO_RENEGOTIATION, and nothing it
// sends afterwards is answered. (renegotiate-client.py drives OpenSSL directly, swapping certificates.)

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import t from 'tap';
import { issueClient, prepareCa } from '../helpers/certs.js';
import { startGateway } from '../helpers/gateway.js';

t.test('node\'s tlsSocket.renegotiate() is refused on both listeners and ends the connection', async (t) => {
  const gw = await startGateway({ dicom: true, prepare: prepareCa, config: { tls: { autoGenerate: false } } });
  t.teardown(() => gw.stop());
  const device = await issueClient(gw.dir, 'view-reneg', 'viewer', ['VIEWRENEG']);
  await gw.gateway.reload();
  const cert = readFileSync(device.files.cert, 'utf8');
  const key = readFileSync(device.files.key, 'utf8');

  for (const [name, port] of [['HTTPS', gw.httpsPort], ['DICOM', gw.dicomPort]] as const) {
    await t.test(name, async (t) => {
      const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: gw.caPem, cert, key, maxVersion: 'TLSv1.2' });
      socket.on('error', () => undefined);
      const received: Buffer[] = [];
      socket.on('data', (c: Buffer) => received.push(c));
      // Not events.once: it rejects on the 'error' the refusal raises.
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await once(socket, 'secureConnect');
      t.equal(socket.getProtocol(), 'TLSv1.2', 'TLS 1.2 (1.3 has no renegotiation)');
      t.ok(socket.authorized, 'the client trusts the gateway');
      // renegotiate() calls back on success only; a refusal is the socket's 'error'.
      const err = await new Promise<Error | null>((resolve) => {
        socket.once('error', (e) => resolve(e));
        const started = socket.renegotiate({ rejectUnauthorized: true }, (e) => resolve(e));
        if (!started) resolve(new Error('renegotiate() did not start'));
      });
      t.match((err as { code?: string } | null)?.code, 'ERR_SSL_NO_RENEGOTIATION', `the renegotiation was refused: ${String(err?.message)}`);
      // Were the connection still open, this would get an answer (HTTP 4xx, or A-ASSOCIATE-RJ / -AC).
      if (!socket.destroyed) socket.write(name === 'HTTPS' ? 'GET /dicom-web/studies HTTP/1.1\r\nHost: localhost\r\n\r\n' : Buffer.from([0x01, 0x00, 0, 0, 0, 0]));
      await closed;
      t.same(Buffer.concat(received), Buffer.alloc(0), 'nothing was answered');
    });
  }
});
