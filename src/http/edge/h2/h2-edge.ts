// HTTP/2 on the HTTPS listener: TLS connections that chose "h2" by ALPN are handed to node's http2
// server (nghttp2 parses the frames); each stream is parsed into the edge's RequestHead
// (h2-request-head.ts) and goes to the PACS through the DICOMweb guard (h2-dicomweb.ts) or to the
// control plane (h2-control-plane.ts).
//
// Limits: concurrent streams, header list size, session memory (node's settings and options), and
// the edge's own bound on work a client abandons: streams reset before their answer (rapid reset,
// CVE-2023-44487) or guard checks still running for streams that are gone. Past it the session gets
// GOAWAY (ENHANCE_YOUR_CALM) and is closed. nghttp2 itself refuses CONTINUATION floods and HPACK
// bombs (oversized header lists) and resets streams whose DATA disagrees with Content-Length.

import { constants, createServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { canonicalAddress } from '../../../util/address-key.js';
import { snapshotPeer, type PeerIdentity } from '../../../tls/peer-identity.js';
import type { EdgeContext } from '../edge-connection.js';
import { clientAddress } from '../../client-address.js';
import { mountOf } from '../../dicomweb-guard.js';
import { GatewayError } from '../../../errors.js';
import { respondError } from './h2-answer.js';
import { serveControlPlane } from './h2-control-plane.js';
import { ControlPlaneAgents } from './control-plane-agents.js';
import { serveDicomweb } from './h2-dicomweb.js';
import { respondViewerFile } from './h2-viewer.js';
import { viewerFileAnswer, viewerRequest } from '../viewer-files.js';
import { h2RequestHead } from './h2-request-head.js';
import { PacsSlots } from './pacs-slots.js';

/** The HTTP/2 limits (README "HTTP/2"). */
export interface H2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: open streams per connection. */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: decoded header bytes per request (HPACK bombs stop here). */
  readonly maxHeaderListSize: number;
  /** Most memory one session's nghttp2 state may hold, in MB; beyond it new streams are refused. */
  readonly maxSessionMemoryMb: number;
  /** Streams a client may abandon (reset, or gone before their answer) beyond the ones it let finish, before GOAWAY. */
  readonly maxAbandonedStreams: number;
  /** DICOMweb requests of one connection at the PACS at once; the others wait their turn (pacs-slots.ts). */
  readonly pacsPerConnection: number;
}

export const DEFAULT_H2_LIMITS: H2Limits = { maxConcurrentStreams: 128, maxHeaderListSize: 32 * 1024, maxSessionMemoryMb: 16, maxAbandonedStreams: 128, pacsPerConnection: 16 };

/** What an h2 connection needs: the same as an HTTP/1.1 edge connection (the guard, the pools, the control plane…). */
export type H2EdgeContext = EdgeContext;

interface SessionFacts {
  readonly peer: PeerIdentity;
  readonly peerAddress: string;
  readonly remotePort: number | undefined;
  answered: number;
  abandoned: number;
  /** DICOMweb requests whose guard or exchange is still running. */
  working: number;
  readonly slots: PacsSlots;
  /** Keep-alive in-process connections to the control plane. */
  readonly agents: ControlPlaneAgents;
  closing: boolean;
}

export interface H2Edge {
  /** Takes a TLS connection whose ALPN protocol is h2. */
  accept(socket: TLSSocket): void;
  close(): void;
}

export function createH2Edge(ctx: H2EdgeContext, limits: H2Limits = DEFAULT_H2_LIMITS): H2Edge {
  const server: Http2Server = createServer({
    settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderListSize, enablePush: false },
    maxSessionMemory: limits.maxSessionMemoryMb,
    // Header fields per request, as over HTTP/1.1 (request-head.ts MAX_HEADERS), pseudo-headers included.
    maxHeaderListPairs: 128,
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  });
  const sessions = new Map<Http2Session, SessionFacts>();
  let incoming: SessionFacts | undefined;

  server.on('session', (session: Http2Session) => {
    const facts = incoming;
    incoming = undefined;
    if (facts === undefined) { session.destroy(); return; }
    sessions.set(session, facts);
    session.on('error', (err: Error & { code?: string }) => {
      ctx.logger.info({ source: facts.peerAddress, err: { message: err.message, code: err.code } }, 'HTTP/2 session error: closed');
    });
    session.on('frameError', (type: number, code: number) => {
      ctx.logger.debug({ source: facts.peerAddress, frameType: type, code }, 'HTTP/2 frame error');
    });
    session.on('goaway', (code: number) => {
      if (code !== constants.NGHTTP2_NO_ERROR) ctx.logger.info({ source: facts.peerAddress, code }, 'HTTP/2 client sent GOAWAY with an error');
    });
    session.once('close', () => { sessions.delete(session); facts.agents.destroy(); });
    // An idle session (no frames either way) is closed after the keep-alive time.
    session.setTimeout(ctx.keepAliveMs, () => { goaway(session, facts, constants.NGHTTP2_NO_ERROR, undefined); });
  });

  server.on('stream', (stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    stream.on('error', () => undefined);
    const session = stream.session;
    const facts = session === undefined ? undefined : sessions.get(session);
    if (session === undefined || facts === undefined || facts.closing) { stream.close(constants.NGHTTP2_REFUSED_STREAM); return; }
    let answered = false;
    stream.once('close', () => {
      if (stream.headersSent || answered) { facts.answered++; return; }
      facts.abandoned++;
      if (facts.abandoned > limits.maxAbandonedStreams && facts.abandoned > facts.answered) {
        goaway(session, facts, constants.NGHTTP2_ENHANCE_YOUR_CALM, 'too many HTTP/2 streams abandoned before their answer (rapid reset): GOAWAY');
      }
    });
    dispatch(stream, rawHeaders, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0, facts, () => { answered = true; });
  });

  function goaway(session: Http2Session, facts: SessionFacts, code: number, why: string | undefined): void {
    if (facts.closing || session.destroyed) return;
    facts.closing = true;
    if (why !== undefined) ctx.logger.warn({ source: facts.peerAddress, abandoned: facts.abandoned, answered: facts.answered, working: facts.working }, why);
    if (code === constants.NGHTTP2_NO_ERROR) { session.close(); return; }
    // GOAWAY now; the frames already on their way are still read (and refused) for a moment, so that
    // the client gets the GOAWAY rather than a TCP reset of a socket closed with unread bytes.
    session.goaway(code);
    setTimeout(() => { if (!session.destroyed) session.destroy(); }, 1000).unref();
  }

  function dispatch(stream: ServerHttp2Stream, raw: string[], endStream: boolean, facts: SessionFacts, markAnswered: () => void): void {
    const parsed = h2RequestHead(raw, endStream, limits.maxHeaderListSize);
    if ('status' in parsed) {
      ctx.logger.info({ source: facts.peerAddress, reason: parsed.reason, status: parsed.status }, 'malformed HTTP request refused');
      markAnswered();
      respondError(stream, new GatewayError('ERR_BAD_REQUEST', `malformed HTTP request: ${parsed.reason}`), { status: parsed.status });
      return;
    }
    let address = facts.peerAddress;
    if (ctx.trustProxy) {
      let xff: string | undefined;
      for (const [k, v] of parsed.head.headers) if (k === 'x-forwarded-for') xff = v;
      const c = clientAddress(facts.peerAddress, xff, true);
      if (!c.ok) {
        ctx.logger.info({ source: facts.peerAddress, reason: c.reason }, 'malformed HTTP request refused');
        markAnswered();
        respondError(stream, new GatewayError('ERR_BAD_REQUEST', `malformed HTTP request: ${c.reason}`), { status: 400 });
        return;
      }
      address = c.address;
    }
    const mounted = mountOf(ctx.mounts, parsed.head.target);
    if (mounted === undefined) {
      const client = { remoteAddress: address, remotePort: facts.remotePort, peerIdentity: facts.peer };
      const toControlPlane = (): void => { serveControlPlane(stream, parsed, client, ctx.controlPlane, ctx.logger, ctx.keepAliveMs, facts.agents.for(client)); };
      const viewer = ctx.viewer;
      const file = viewer === undefined ? undefined : viewerRequest(parsed.head, parsed.hasBody, viewer, { address, peer: facts.peer });
      if (viewer === undefined || file === undefined) { toControlPlane(); return; }
      const finished = startWork(stream, facts);
      if (finished === undefined) return;
      viewerFileAnswer(file, viewer, ctx.logger)
        .then((a) => {
          if (stream.destroyed || stream.closed) return;
          if (a === undefined) toControlPlane();
          else respondViewerFile(stream, a);
        })
        .catch((err: unknown) => {
          ctx.logger.error({ err: { message: (err as Error).message } }, 'viewer file request failed');
          respondError(stream, new GatewayError('ERR_BAD_REQUEST', 'internal error'), { status: 500 });
        })
        .finally(finished);
      return;
    }
    const finished = startWork(stream, facts);
    if (finished === undefined) return;
    serveDicomweb(stream, parsed, mounted, { address, peer: facts.peer, slots: facts.slots }, { pools: ctx.pools, guard: ctx.guard, logger: ctx.logger, bodyIdleMs: ctx.keepAliveMs })
      .catch((err: unknown) => {
        ctx.logger.error({ err: { message: (err as Error).message } }, 'DICOMweb request failed');
        respondError(stream, new GatewayError('ERR_BAD_REQUEST', 'internal error'), { status: 500 });
      })
      .finally(finished);
  }

  /**
   * Counts a request whose checks run in the edge (the guard, a viewer file's session check) as work in
   * progress until both its work has returned (call the function returned) and its stream is closed: a
   * stream reset while its check still runs keeps counting until the check returns. Undefined: too much
   * work on this connection already (GOAWAY sent).
   */
  function startWork(stream: ServerHttp2Stream, facts: SessionFacts): (() => void) | undefined {
    const session = stream.session;
    if (facts.working >= 2 * limits.maxConcurrentStreams) {
      if (session !== undefined) goaway(session, facts, constants.NGHTTP2_ENHANCE_YOUR_CALM, 'too much HTTP/2 work in progress on one connection: GOAWAY');
      return undefined;
    }
    facts.working++;
    let pending = 2;
    const finished = (): void => { if (--pending === 0) facts.working--; };
    stream.once('close', finished);
    return finished;
  }

  return {
    accept(socket: TLSSocket): void {
      socket.setNoDelay(true);
      incoming = {
        peer: snapshotPeer(socket, ctx.recheckPeer), peerAddress: canonicalAddress(socket.remoteAddress ?? ''), remotePort: socket.remotePort,
        answered: 0, abandoned: 0, working: 0, closing: false, slots: new PacsSlots(limits.pacsPerConnection), agents: new ControlPlaneAgents(ctx.controlPlane),
      };
      server.emit('connection', socket);
      incoming = undefined;
    },
    close(): void {
      for (const s of sessions.keys()) s.destroy();
      sessions.clear();
    },
  };
}
