// A small HTTP(S) client for set-up, logins and the keep-alive memory scenario (load itself comes from wrk).

import { request as httpRequest, type Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { oathtool } from '../../test/helpers/tools.js';
import type { BenchUser } from './identities.js';

export interface Answer { readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: Buffer }

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** CA certificate (PEM) that the server's certificate must chain to (HTTPS only). */
  readonly ca?: string;
  readonly agent?: HttpAgent | HttpsAgent;
  readonly timeoutMs?: number;
}

/** One request; resolves with the whole answer, rejects on network errors or after `timeoutMs` (default 60 s). */
export function fetchUrl(url: string, o: RequestOptions = {}): Promise<Answer> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const options = {
      host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method: o.method ?? 'GET', headers: o.headers,
      ...(o.agent === undefined ? { agent: false as const } : { agent: o.agent }),
      ...(secure ? { ca: o.ca, servername: 'localhost' } : {}),
    };
    const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs ?? 60_000, () => req.destroy(new Error(`${o.method ?? 'GET'} ${url}: timed out`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Logs `user` in with password + a fresh oathtool TOTP code; resolves with the bearer token. */
export async function login(baseUrl: string, ca: string, user: BenchUser, code?: string): Promise<string> {
  const totp = code ?? (await oathtool(user.totpSecret));
  const r = await fetchUrl(`${baseUrl}/auth/login`, {
    method: 'POST', ca, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user.username, password: user.password, totp }),
  });
  if (r.status !== 200) throw new Error(`login of ${user.username} at ${baseUrl}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 300)}`);
  const token = (JSON.parse(r.body.toString('utf8')) as { token?: unknown }).token;
  if (typeof token !== 'string') throw new Error(`login of ${user.username}: no token in the answer`);
  return token;
}
