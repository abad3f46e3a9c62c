// Checks of the relay section the JSON schema cannot express: allowFrom entries are addresses or CIDR ranges.

import { cidrProblem } from './allow-list.js';

/** Adds a problem per allowFrom entry that is not an address or CIDR range; `relay` is the merged, schema-checked section. */
export function checkRelayConfig(relay: unknown, problems: string[]): void {
  if (typeof relay !== 'object' || relay === null) return;
  const allowFrom = (relay as { allowFrom?: unknown }).allowFrom;
  if (!Array.isArray(allowFrom)) return;
  allowFrom.forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    const problem = cidrProblem(entry);
    if (problem !== undefined) problems.push(`relay.allowFrom.${i}: ${problem}`);
  });
}
