// The sentence a page shows for a refusal: the error's own message, and for a lockout how long to wait.

import { isGatewayError } from '../../errors.js';
import { waitText } from './layout.js';

export function userMessage(err: unknown): string {
  if (isGatewayError(err, 'ERR_LOCKED_OUT')) {
    const retry = err.detail?.['retryAfterSeconds'];
    if (typeof retry === 'number') return `Too many failed attempts. Wait ${waitText(retry)} and try again.`;
  }
  if (isGatewayError(err)) return err.message;
  return 'Something went wrong on the gateway; try again, or ask your administrator.';
}
