// The edge's own answers (refusals, upstream failures) as raw HTTP/1.1 responses, in the same JSON
// shape and with the same headers as the control plane's replyError.

import { GatewayError } from '../../errors.js';

/** Headers on every answer that leaves the gateway. */
export const SECURITY_HEADERS = 'strict-transport-security: max-age=31536000\r\nx-content-type-options: nosniff\r\n';

const REASONS: Readonly<Record<number, string>> = Object.freeze({
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 413: 'Content Too Large', 414: 'URI Too Long', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
});

/** A complete response for `err`; `status` overrides the code's own (e.g. 405 for a route refusal). */
export function errorResponse(err: unknown, options: { status?: number; close?: boolean; headers?: Readonly<Record<string, string>>; head?: boolean } = {}): Buffer {
  const e = err instanceof GatewayError ? err : new GatewayError('ERR_BAD_REQUEST', 'internal error');
  const status = options.status ?? (err instanceof GatewayError ? e.statusCode : 500);
  const body = Buffer.from(JSON.stringify({ statusCode: status, error: e.code, message: e.message, ...(e.detail === undefined ? {} : { detail: e.detail }) }));
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n`;
  if (status === 401) head += 'www-authenticate: Bearer realm="pacs-gateway", error="invalid_token"\r\n';
  const retry = e.detail?.['retryAfterSeconds'];
  if (typeof retry === 'number') head += `retry-after: ${String(retry)}\r\n`;
  for (const [k, v] of Object.entries(options.headers ?? {})) head += `${k}: ${v}\r\n`;
  head += `cache-control: no-store\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${String(body.length)}\r\n${SECURITY_HEADERS}`;
  if (options.close === true) head += 'connection: close\r\n';
  head += '\r\n';
  return options.head === true ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
