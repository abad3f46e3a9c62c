// Request ids: one per HTTP exchange, carried by every audit event and log line of that exchange.

import { randomBytes } from 'node:crypto';

/** A prefix per process, so that the ids of replicas and of a restarted gateway do not collide. */
const PREFIX = randomBytes(5).toString('hex');
let counter = 0;

/** A new id, `<process prefix>-<counter in base 36>`: a counter and one string per request, no random bytes. */
export function nextRequestId(): string {
  counter++;
  return `${PREFIX}-${counter.toString(36)}`;
}
