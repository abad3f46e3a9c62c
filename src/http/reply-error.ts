// Sends a GatewayError as an HTTP answer: JSON body with code and message, the right status and headers.

import type { FastifyReply } from 'fastify';
import { GatewayError } from '../errors.js';

/** Sends `err` (or a generic 500 for anything that is not a GatewayError). */
export function replyError(reply: FastifyReply, err: unknown): FastifyReply {
  const e = err instanceof GatewayError ? err : new GatewayError('ERR_BAD_REQUEST', 'internal error');
  const status = err instanceof GatewayError ? e.statusCode : 500;
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="pacs-gateway", error="invalid_token"');
  const retry = e.detail?.['retryAfterSeconds'];
  if (typeof retry === 'number') reply.header('retry-after', String(retry));
  reply.header('cache-control', 'no-store');
  return reply.code(status).send({ statusCode: status, error: e.code, message: e.message, ...(e.detail === undefined ? {} : { detail: e.detail }) });
}
