// Opening a probe connection, plain or TLS, and naming every way it can fail in terms an admin reads.

import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type SecureVersion, type TLSSocket } from 'node:tls';
import type { Endpoint, ProbeContext } from './context.js';

/** Why a connection attempt produced no usable connection. */
export type ConnectFailure =
  | 'refused' // RST: nothing listens
  | 'timeout' // no SYN-ACK within the timeout (filtered, or no such host)
  | 'silent' // the TCP connection opened, but no answer came in time
  | 'unreachable' // ICMP unreachable, no route
  | 'unresolved' // host name does not resolve
  | 'not-tls' // the peer answered a ClientHello with something that is not TLS, or closed
  | 'client-cert-required' // the handshake (or the first read after it) failed for want of a client certificate
  | 'version-refused' // the peer does not speak the offered TLS version
  | 'handshake-failed' // any other TLS refusal (e.g. no cipher in common)
  | 'local-unsupported' // this host's OpenSSL would not offer the version
  | 'error';

export interface ConnectFailed {
  readonly ok: false;
  readonly failure: ConnectFailure;
  readonly detail: string;
  /** What the TLS handshake had agreed before it failed (client-cert-required: the server got that far). */
  readonly negotiated?: { readonly protocol: string; readonly cipher: string };
}

export interface PlainConnected { readonly ok: true; readonly socket: Socket }

export interface TlsConnected {
  readonly ok: true;
  readonly socket: TLSSocket;
  /** e.g. `TLSv1.3`. */
  readonly protocol: string;
  /** IANA name, e.g. `TLS_AES_256_GCM_SHA384`. */
  readonly cipher: string;
}

const NETWORK_FAILURES: Readonly<Record<string, ConnectFailure>> = Object.freeze({
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EADDRNOTAVAIL: 'unreachable',
  ENOTFOUND: 'unresolved',
  EAI_AGAIN: 'unresolved',
  ETIMEDOUT: 'timeout',
});

function networkFailure(err: NodeJS.ErrnoException): ConnectFailed {
  const failure = NETWORK_FAILURES[err.code ?? ''] ?? 'error';
  return { ok: false, failure, detail: err.code ?? err.message };
}

/** True once the peer has sent its certificate (a TLS failure after that point means something else than before it). */
export function sawPeerCertificate(socket: TLSSocket | null | undefined): boolean {
  const cert = socket?.getPeerCertificate?.();
  return cert !== null && cert !== undefined && Object.keys(cert).length > 0;
}

/** TLS alerts and OpenSSL errors (node's ERR_SSL_* codes) mapped to failures. */
export function tlsFailure(err: NodeJS.ErrnoException, sawServerCertificate: boolean): ConnectFailed {
  const code = err.code ?? '';
  const detail = code === '' ? err.message : code;
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') return { ok: false, failure: 'client-cert-required', detail: 'alert certificate_required (116)' };
  // TLS ≤ 1.2: a server that needs a certificate aborts with handshake_failure (40) after it sent its
  // own certificate and the client answered with none (RFC 5246 §7.4.6); before that point the same
  // alert means something else (no cipher in common).
  if (code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' || code === 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED' || code === 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE') {
    return sawServerCertificate
      ? { ok: false, failure: 'client-cert-required', detail: `${detail} after the server's certificate` }
      : { ok: false, failure: 'handshake-failed', detail };
  }
  if (code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' || code === 'ERR_SSL_UNSUPPORTED_PROTOCOL' || code === 'ERR_SSL_WRONG_SSL_VERSION') {
    return { ok: false, failure: 'version-refused', detail };
  }
  if (code === 'ERR_SSL_NO_PROTOCOLS_AVAILABLE' || code === 'ERR_SSL_NO_CIPHERS_AVAILABLE') return { ok: false, failure: 'local-unsupported', detail };
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_RECORD_LAYER_FAILURE' || code === 'ECONNRESET' || code === 'EPIPE' || /socket disconnected|unexpected eof/i.test(err.message)) {
    return { ok: false, failure: 'not-tls', detail };
  }
  if (code.startsWith('ERR_SSL_')) return { ok: false, failure: 'handshake-failed', detail };
  return networkFailure(err);
}

const lateErrors = new WeakMap<TLSSocket, NodeJS.ErrnoException>();

/** The first error a TLS socket from openTls had after its handshake (e.g. a certificate_required alert). */
export function lateTlsError(socket: TLSSocket): NodeJS.ErrnoException | undefined {
  return lateErrors.get(socket);
}

/** A plain TCP connection, after waiting for a rate-limiter slot. */
export async function openPlain(ep: Endpoint, ctx: ProbeContext): Promise<PlainConnected | ConnectFailed> {
  await ctx.limiter.take();
  return new Promise((resolve) => {
    const socket = netConnect({ host: ep.address, port: ep.port, noDelay: true });
    const timer = setTimeout(() => { socket.destroy(); resolve({ ok: false, failure: 'timeout', detail: `no answer to connect within ${ctx.timeoutMs} ms` }); }, ctx.timeoutMs);
    socket.once('connect', () => { clearTimeout(timer); socket.removeAllListeners('error'); socket.on('error', () => undefined); resolve({ ok: true, socket }); });
    socket.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); socket.destroy(); resolve(networkFailure(err)); });
  });
}

export interface TlsOffer {
  /** Offer exactly this version (default: the endpoint's `tlsVersion`, else whatever node offers, TLS 1.2–1.3). */
  readonly version?: SecureVersion;
}

// TLS 1.0/1.1 need SHA-1 signatures and CBC suites that OpenSSL 3 disallows at its default security
// level; level 0 lets this client offer them, so that a server which accepts them can be found.
const OLD_VERSIONS: ReadonlySet<string> = new Set(['TLSv1', 'TLSv1.1']);

/**
 * Options for a TLS connection to `ep` without a client certificate and without verifying the
 * server (the scanner inventories; it does not trust), offering only `version` when given.
 */
export function tlsOptions(ep: Endpoint, version: SecureVersion | undefined = ep.tlsVersion): ConnectionOptions {
  return {
    host: ep.address, port: ep.port, rejectUnauthorized: false,
    ...(ep.servername === undefined ? {} : { servername: ep.servername }),
    ...(version === undefined ? {} : { minVersion: version, maxVersion: version }),
    ...(version !== undefined && OLD_VERSIONS.has(version) ? { ciphers: 'DEFAULT:@SECLEVEL=0' } : {}),
  };
}

/** A TLS handshake (see tlsOptions). Connect, handshake and the peer's first alert share one timeout. */
export async function openTls(ep: Endpoint, ctx: ProbeContext, offer: TlsOffer = {}): Promise<TlsConnected | ConnectFailed> {
  await ctx.limiter.take();
  return new Promise((resolve) => {
    const socket = tlsConnect(tlsOptions(ep, offer.version ?? ep.tlsVersion));
    socket.setNoDelay(true);
    let settled = false;
    const finish = (r: TlsConnected | ConnectFailed): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!r.ok) socket.destroy();
      resolve(r);
    };
    let tcp = false;
    socket.once('connect', () => { tcp = true; });
    const timer = setTimeout(() => finish(tcp
      ? { ok: false, failure: 'silent', detail: `no answer to a TLS ClientHello within ${ctx.timeoutMs} ms` }
      : { ok: false, failure: 'timeout', detail: `no answer to connect within ${ctx.timeoutMs} ms` }), ctx.timeoutMs);
    socket.once('secureConnect', () => {
      socket.removeAllListeners('error');
      // A TLS 1.3 server checks the client certificate after the client's handshake is done: its
      // certificate_required alert can arrive before anyone listens. Kept for lateTlsError().
      socket.on('error', (err: NodeJS.ErrnoException) => { if (!lateErrors.has(socket)) lateErrors.set(socket, err); });
      finish({ ok: true, socket, protocol: socket.getProtocol() ?? 'unknown', cipher: socket.getCipher().standardName });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const f = tlsFailure(err, sawPeerCertificate(socket));
      const protocol = socket.getProtocol();
      const cipher = socket.getCipher() as { standardName?: string } | undefined;
      finish(f.failure === 'client-cert-required' && protocol !== null && cipher?.standardName !== undefined
        ? { ...f, negotiated: { protocol, cipher: cipher.standardName } }
        : f);
    });
    socket.once('close', () => finish({ ok: false, failure: 'not-tls', detail: 'the connection closed during the handshake' }));
  });
}
