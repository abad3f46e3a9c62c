// The edge's own answers (refusals, upstream failures) as raw HTTP/1.1 responses: errorAnswer's
// status, headers and JSON body, the same as the control plane's replyError.

import { STATUS_CODES } from 'node:http';
import { errorAnswer } from '../reply-error.js';

/** Headers on every answer that leaves the gateway. */
export const SECURITY_HEADERS = 'strict-transport-security: max-age=31536000\r\nx-content-type-options: nosniff\r\n';


/** A complete response for `err`; `status` overrides the code's own (e.g. 405 for a route refusal). */
export function errorResponse(err: unknown, options: { status?: number; close?: boolean; headers?: Readonly<Record<string, string>>; head?: boolean } = {}): Buffer {
  const a = errorAnswer(err, options.status);
  const body = Buffer.from(JSON.stringify(a.body));
  let head = `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status] ?? 'Error'}\r\n`;
  for (const [k, v] of Object.entries({ ...a.headers, ...options.headers })) head += `${k}: ${v}\r\n`;
  head += `content-type: application/json; charset=utf-8\r\ncontent-length: ${String(body.length)}\r\n${SECURITY_HEADERS}`;
  if (options.close === true) head += 'connection: close\r\n';
  head += '\r\n';
  return options.head === true ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
