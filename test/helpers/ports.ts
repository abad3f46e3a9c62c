// Test helper: pick a free TCP port on the loopback interface for a server a test starts.
import { createServer } from 'node:net';

/** Ports this process handed out: the OS may offer a just-closed port again before its taker binds it. */
const handedOut = new Set<number>();

function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: server has no TCP address'));
        return;
      }
      const { port } = address;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}

/**
 * Returns a TCP port that was free on 127.0.0.1 a moment ago (the OS picks it: listen on
 * port 0, read the port, close) and that this process has not handed out before, so that
 * several ports picked in a row before anything binds them are distinct. Another process may
 * still take it before you bind it, so servers that can listen on port 0 themselves should do
 * that instead.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probe();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: the OS keeps offering ports already handed out');
}
