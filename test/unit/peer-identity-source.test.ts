// Only src/tls/peer-identity.ts asks a TLS socket who its peer is: every guard reads the snapshot taken at the handshake (issue 12 §1).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

const SNAPSHOT_MODULE = join('src', 'tls', 'peer-identity.ts');
/** Client-side code: the scanner reads the certificate of a server it probes, never a client's identity. */
const CLIENT_SIDE = join('src', 'scan') + '/';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * What reads the peer from a live socket. node sets `authorized` after the first handshake only, while
 * getPeerCertificate() follows a renegotiated session: read later, the two disagree.
 */
const LIVE_PEER_READS: readonly [string, RegExp][] = [
  ['getPeerCertificate()', /\bgetPeerCertificate\s*\(/],
  ['getPeerX509Certificate()', /\bgetPeerX509Certificate\s*\(/],
  ['.authorized', /\.authorized\b/],
  ['authorizationError', /\bauthorizationError\b/],
  ['verifyError()', /\bverifyError\s*\(/],
];

t.test('no module but the snapshot reads the peer certificate or its verification from a socket', async (t) => {
  const files = sources('src');
  t.ok(files.includes(SNAPSHOT_MODULE), 'the snapshot module exists');
  for (const file of files) {
    if (file === SNAPSHOT_MODULE || file.startsWith(CLIENT_SIDE)) continue;
    const text = readFileSync(file, 'utf8');
    for (const [what, re] of LIVE_PEER_READS) {
      const line = text.split('\n').findIndex((l) => re.test(l));
      t.equal(line, -1, `${file}${line < 0 ? '' : `:${line + 1}`} reads ${what}: use the PeerIdentity snapshot (src/tls/peer-identity.ts)`);
    }
  }
});

t.test('renegotiation is refused in the one TLS profile, and no other secureOptions can replace it', async (t) => {
  const profile = join('src', 'tls', 'profile.ts');
  t.match(readFileSync(profile, 'utf8'), /secureOptions: constants\.SSL_OP_NO_RENEGOTIATION/);
  for (const file of sources('src')) {
    if (file !== profile) t.notMatch(readFileSync(file, 'utf8'), /\bsecureOptions\b/, `${file}: secureOptions belong in the TLS profile`);
  }
});
