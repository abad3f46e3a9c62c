// The pino logger: JSON on stdout, UTC ISO times, and a fixed redaction list so secrets never reach logs.

import { pino, type Logger, type DestinationStream } from 'pino';
import { stdoutDestination } from './batched-destination.js';

/** Paths pino censors wherever they appear in a log object. */
export const REDACT_PATHS = Object.freeze([
  'password', '*.password', 'passcode', '*.passcode', 'totp', '*.totp', 'token', '*.token',
  'secret', '*.secret', 'totpSecret', '*.totpSecret', 'passwordHash', '*.passwordHash',
  'signingKey', '*.signingKey', 'clientSecret', '*.clientSecret', '*.*.clientSecret', 'authorization', '*.authorization', 'cookie', '*.cookie',
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
  'headers.authorization', 'headers.cookie', 'redis.password', '*.redis.password',
]);

let lastMs = -1;
let lastTime = '';

/**
 * pino's isoTime, formatted once per millisecond: the audit trail writes a line per DICOMweb
 * request, and Date#toISOString was ~1.5 µs of each (docs/benchmarks.md).
 */
export function isoTimeField(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

export function createLogger(options: { level?: string; destination?: DestinationStream; flushMs?: number } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'pacs-gateway' },
      timestamp: isoTimeField,
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? stdoutDestination(options.flushMs ?? 0),
  );
}

export type { Logger };
