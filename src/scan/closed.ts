// Connection failures that mean "nothing answers here" (the verdict `closed`), in words.

import type { ConnectFailure } from './connection.js';

/** The evidence line when `failure` means the port is closed, else undefined. */
export function closedEvidence(failure: ConnectFailure | string, detail: string): string | undefined {
  switch (failure) {
    case 'refused': return 'connection refused: nothing listens on this port';
    case 'timeout': return `${detail} (filtered, or no such host)`;
    case 'unreachable': return `host unreachable (${detail})`;
    default: return undefined;
  }
}
