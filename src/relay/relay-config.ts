// Checks of the relay section the JSON schema cannot express: allowFrom entries are addresses or CIDR
// ranges, and none of them reaches an address of a legacy device.

import { AllowList, cidrProblem } from './allow-list.js';

/** Whether two valid CIDR entries share an address: nested or disjoint, so one holds the other's address. */
function overlap(a: string, b: string): boolean {
  const within = (range: string, entry: string) => new AllowList([range]).allows(entry.split('/')[0]);
  return within(a, b) || within(b, a);
}

/**
 * Adds a problem per allowFrom entry that is not an address or CIDR range; `relay` is the merged,
 * schema-checked section. An entry that takes in a legacy device's address is refused too: a host
 * admitted by its address alone (a modality on the cleartext port) must not also count as the PACS
 * on the relay, where it could send anything to the remote destinations under the gateway's certificate.
 */
export function checkRelayConfig(relay: unknown, problems: string[], legacyDevices?: unknown): void {
  if (typeof relay !== 'object' || relay === null) return;
  const allowFrom = (relay as { allowFrom?: unknown }).allowFrom;
  if (!Array.isArray(allowFrom)) return;
  const legacy = typeof legacyDevices === 'object' && legacyDevices !== null ? Object.entries(legacyDevices as Record<string, { addresses?: unknown }>) : [];
  allowFrom.forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    const problem = cidrProblem(entry);
    if (problem !== undefined) { problems.push(`relay.allowFrom.${i}: ${problem}`); return; }
    for (const [name, d] of legacy) {
      const addresses = Array.isArray(d?.addresses) ? d.addresses : [];
      const hit = addresses.find((a): a is string => typeof a === 'string' && cidrProblem(a) === undefined && overlap(entry, a));
      if (hit !== undefined) {
        problems.push(`relay.allowFrom.${i}: "${entry}" takes in ${hit} of legacyDevices.${name}; the relay must accept the PACS only, never a device admitted by its address (narrow allowFrom to the PACS's own address)`);
      }
    }
  });
}
