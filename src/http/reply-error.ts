// An error as an HTTP answer: JSON body with code and message, the right status and headers. One
// description (errorAnswer) serves both fastify (replyError) and the HTTPS edge (edge/error-response.ts).

import type { FastifyReply } from 'fastify';
import { GatewayError } from '../errors.js';

export interface ErrorAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { readonly statusCode: number; readonly error: string; readonly message: string; readonly detail?: unknown };
}

/** The answer for `err` (a generic 500 for anything that is not a GatewayError); `status` overrides the code's own. */
export function errorAnswer(err: unknown, status?: number): ErrorAnswer {
  const e = err instanceof GatewayError ? err : new GatewayError('ERR_BAD_REQUEST', 'internal error');
  const code = status ?? (err instanceof GatewayError ? e.statusCode : 500);
  const headers: Record<string, string> = {};
  if (code === 401) headers['www-authenticate'] = 'Bearer realm="pacs-gateway", error="invalid_token"';
  const retry = e.detail?.['retryAfterSeconds'];
  if (typeof retry === 'number') headers['retry-after'] = String(retry);
  headers['cache-control'] = 'no-store';
  return { status: code, headers, body: { statusCode: code, error: e.code, message: e.message, ...(e.detail === undefined ? {} : { detail: e.detail }) } };
}

/** Sends `err` through fastify. */
export function replyError(reply: FastifyReply, err: unknown): FastifyReply {
  const a = errorAnswer(err);
  return reply.headers(a.headers).code(a.status).send(a.body);
}
