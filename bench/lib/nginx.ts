// nginx (Debian nginx-light) twice: the TLS reverse proxy an admin would otherwise use, and a fast static DICOMweb upstream.

import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { startProcess, waitFor, waitForPort } from '../../test/helpers/tools.js';
import { TLS12_CIPHERS, TLS13_CIPHERSUITES } from '../../src/tls/profile.js';
import type { BenchIdentities } from './identities.js';
import { childPids } from './proc.js';

export interface Nginx {
  /** The master process. */
  readonly pid: number;
  /** Master and workers (CPU is summed over these). */
  pids(): number[];
  stop(): Promise<void>;
}

/** Fixed DICOMweb answers the static upstream serves. */
export interface StaticContent {
  /** QIDO-RS answer body (application/dicom+json). */
  readonly qido: Buffer;
  /** WADO-RS answer body for every instance URL except `big` (multipart/related; type="application/dicom"). */
  readonly wado: Buffer;
  /** A large WADO-RS answer, served for exactly `big.path`. */
  readonly big: { readonly path: string; readonly body: Buffer };
  /** The multipart boundary used in `wado` and `big.body`. */
  readonly boundary: string;
}

/** The DICOMweb prefix on every upstream and proxy, as on Orthanc. */
const PREFIX = '/dicom-web';

function common(dir: string, name: string, workers: string): string[] {
  const tmp = join(dir, `${name}-tmp`);
  mkdirSync(tmp, { recursive: true });
  const user = userInfo();
  return [
    'daemon off;',
    'master_process on;',
    `worker_processes ${workers};`,
    // As root the workers would otherwise switch to "nobody" and could not read the bench's 0700 temp files.
    ...(user.uid === 0 ? ['user root root;'] : []),
    `pid ${join(dir, `${name}.pid`)};`,
    `error_log ${join(dir, `${name}-error.log`)} warn;`,
    'events { worker_connections 4096; }',
    'http {',
    `  client_body_temp_path ${tmp}/client;`,
    `  proxy_temp_path ${tmp}/proxy;`,
    `  fastcgi_temp_path ${tmp}/fastcgi;`,
    `  uwsgi_temp_path ${tmp}/uwsgi;`,
    `  scgi_temp_path ${tmp}/scgi;`,
    '  keepalive_requests 1000000;',
    '  keepalive_timeout 60s;',
    '  tcp_nodelay on;',
  ];
}

async function launch(dir: string, name: string, conf: string[], ports: readonly number[]): Promise<Nginx> {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, `${conf.join('\n')}\n`);
  const p = await startProcess('nginx', ['-p', dir, '-c', file, '-e', join(dir, `${name}-error.log`)]);
  try {
    await Promise.race([
      Promise.all(ports.map((port) => waitForPort(port, '127.0.0.1', 15_000))),
      p.exited.then((r) => { throw new Error(`nginx ${name} exited (${String(r.code)}): ${r.stderr.slice(-2000)}`); }),
    ]);
  } catch (err) {
    await p.stop();
    throw err;
  }
  const pid = p.child.pid;
  if (pid === undefined) throw new Error(`nginx ${name} has no pid`);
  // Workers are forked right after the listeners open.
  await waitFor(() => childPids(pid).length > 0, 10_000);
  return { pid, pids: () => [pid, ...childPids(pid)], stop: async () => { await p.stop(); } };
}

/** The TLS proxy's access log: one line per request, ending in `r` (resumed TLS session) or `.` (full handshake). */
export const NGINX_PROXY_ACCESS_LOG = (dir: string): string => join(dir, 'nginx-proxy-access.log');

/**
 * The TLS proxy: one server block per upstream, keep-alive to the upstream (as the gateway's
 * undici pool), an access log line per request (as the gateway's audit event), the gateway's
 * certificate and TLS suite order.
 */
export function startNginxProxy(dir: string, id: BenchIdentities, workers: string, routes: readonly { listen: number; upstream: number }[]): Promise<Nginx> {
  const conf = common(dir, 'nginx-proxy', workers);
  conf.push(
    // nginx's "combined" line plus whether TLS resumed a session ("r") or made a full handshake (".").
    '  log_format bench \'$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $ssl_session_reused\';',
    `  access_log ${NGINX_PROXY_ACCESS_LOG(dir)} bench;`,
    `  ssl_certificate ${id.server.cert};`,
    `  ssl_certificate_key ${id.server.key};`,
    '  ssl_protocols TLSv1.2 TLSv1.3;',
    `  ssl_ciphers ${TLS12_CIPHERS.join(':')};`,
    `  ssl_conf_command Ciphersuites ${TLS13_CIPHERSUITES.join(':')};`,
    '  ssl_ecdh_curve X25519:prime256v1:secp384r1;',
    '  ssl_prefer_server_ciphers on;',
  );
  routes.forEach((r, i) => {
    conf.push(
      `  upstream up${i} { server 127.0.0.1:${r.upstream}; keepalive 64; keepalive_requests 1000000; }`,
      `  server {`,
      `    listen 127.0.0.1:${r.listen} ssl;`,
      '    location / {',
      `      proxy_pass http://up${i};`,
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      '      proxy_set_header X-Forwarded-For $remote_addr;',
      '      proxy_set_header X-Forwarded-Proto https;',
      '    }',
      '  }',
    );
  });
  conf.push('}');
  return launch(dir, 'nginx-proxy', conf, routes.map((r) => r.listen));
}

/**
 * A fast DICOMweb "PACS" that answers from fixed files: QIDO-RS `GET /dicom-web/studies`,
 * WADO-RS `GET …/studies/{uid}/series/{uid}/instances/{uid}`. Plain HTTP, one worker, no access log.
 */
export function startStaticUpstream(dir: string, port: number, content: StaticContent): Promise<Nginx> {
  const root = join(dir, 'static');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'qido.json'), content.qido);
  writeFileSync(join(root, 'wado.bin'), content.wado);
  writeFileSync(join(root, 'wado-big.bin'), content.big.body);
  const multipart = `'multipart/related; type="application/dicom"; boundary=${content.boundary}'`;
  const conf = common(dir, 'nginx-static', '1');
  conf.push(
    '  access_log off;',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    `    root ${root};`,
    `    location = ${PREFIX}/studies { types { } default_type application/dicom+json; try_files /qido.json =404; }`,
    `    location = ${content.big.path} { types { } default_type ${multipart}; try_files /wado-big.bin =404; }`,
    `    location ~ ^${PREFIX}/studies/[^/]+/series/[^/]+/instances/[^/]+$ { types { } default_type ${multipart}; try_files /wado.bin =404; }`,
    '    location / { return 404; }',
    '  }',
    '}',
  );
  return launch(dir, 'nginx-static', conf, [port]);
}

/**
 * The viewer's peer: what an admin would otherwise run, nginx serving the same OHIF build under
 * /viewer/ and proxying /dicom-web/ to the PACS, with no authentication at all. TLS as the proxy.
 */
/**
 * nginx serving the viewer build and proxying DICOMweb. `headers`: response headers added to every viewer
 * file (`always`), e.g. the gateway's own security headers for a like-for-like browser; `name` keeps a
 * second instance's files apart.
 */
export function startNginxViewer(dir: string, id: BenchIdentities, workers: string, o: { listen: number; upstream: number; viewerRoot: string; appConfig: string; headers?: Readonly<Record<string, string>>; name?: string }): Promise<Nginx> {
  const name = o.name ?? 'nginx-viewer';
  const www = join(dir, `${name}-www`);
  mkdirSync(www, { recursive: true });
  symlinkSync(o.viewerRoot, join(www, 'viewer'));
  writeFileSync(join(www, 'app-config.js'), o.appConfig);
  const extra = Object.entries(o.headers ?? {}).map(([k, v]) => ` add_header ${k} "${v.replace(/["\\$]/g, '')}" always;`).join('');
  const conf = common(dir, name, workers);
  conf.push(
    '  include /etc/nginx/mime.types;',
    `  access_log ${join(dir, `${name}-access.log`)};`,
    `  ssl_certificate ${id.server.cert};`,
    `  ssl_certificate_key ${id.server.key};`,
    '  ssl_protocols TLSv1.2 TLSv1.3;',
    `  ssl_ciphers ${TLS12_CIPHERS.join(':')};`,
    `  ssl_conf_command Ciphersuites ${TLS13_CIPHERSUITES.join(':')};`,
    `  upstream pacs { server 127.0.0.1:${o.upstream}; keepalive 64; }`,
    '  server {',
    // HTTP/2 as the gateway offers it (ALPN h2, http/1.1 fallback); nginx 1.22's spelling (1.25+: `http2 on;`).
    `    listen 127.0.0.1:${o.listen} ssl http2;`,
    `    root ${www};`,
    `    location = /viewer/app-config.js {${extra} try_files /app-config.js =404; }`,
    // The build's gzip copies (scripts/fetch-viewer.sh) to browsers that accept gzip, as the gateway sends them.
    `    location /viewer/ { gzip_static on; add_header Cache-Control "private, no-cache";${extra} try_files $uri /viewer/index.html; }`,
    `    location ${PREFIX}/ {`,
    '      proxy_pass http://pacs;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '    }',
    '    location / { return 404; }',
    '  }',
    '}',
  );
  return launch(dir, name, conf, [o.listen]);
}
