// What `check-config` says about the relay: its destinations' TLS files load, and a one-line summary.

import type { GatewayConfig, RelayConfig } from '../config/types.js';
import { loadDestinations } from './destination-tls.js';

/** Problems with the relay's TLS files (missing, not PEM, key not matching): empty when the relay is off or they load. */
export function relayFileProblems(config: GatewayConfig): string[] {
  if (config.relay === undefined) return [];
  const problems: string[] = [];
  for (const [ae, d] of Object.entries(config.relay.destinations)) {
    try {
      loadDestinations({ [ae]: d }, config.baseDir);
    } catch (err) {
      problems.push(`${(err as Error).message} (the relay presents cert/key to ${d.host}:${d.port} and verifies it against ca)`);
    }
  }
  return problems;
}

/** "relay: listening on …, from …, to AE → host:port over TLS, …". */
export function relaySummary(relay: RelayConfig): string {
  const to = Object.entries(relay.destinations).map(([ae, d]) => `${ae} → ${d.host}:${d.port}`).join(', ');
  return `relay: on ${relay.listen.host}:${relay.listen.port} (cleartext, from ${relay.allowFrom.join(', ')} only) to ${to}, over TLS`;
}
