// The legacy devices of listen.dicomLegacy: who may connect from where, their role table, and the config checks.

import type { LegacyDevice, RoleRules } from '../config/types.js';
import type { Action } from '../policy/actions.js';
import { CidrList, cidrProblem } from '../util/cidr-list.js';

/** The role of a legacy device that names none; `roles.legacy-modality` overrides it (within LEGACY_ACTIONS). */
export const LEGACY_DEFAULT_ROLE = 'legacy-modality';

/**
 * What the cleartext port ever allows, whatever a role says: data goes in (C-STORE) and C-ECHO.
 * Nothing leaves the PACS over it (C-FIND, C-GET, C-MOVE would carry patient data in cleartext),
 * nothing is deleted and no N-service runs on an unauthenticated channel.
 */
export const LEGACY_ACTIONS: readonly Action[] = Object.freeze(['echo', 'store']);

const DEFAULT_RULES: RoleRules = Object.freeze({ actions: LEGACY_ACTIONS, moveDestinations: [], storeSopClasses: [] });

/** One configured legacy device, ready to match. */
export interface LegacyEntry {
  readonly name: string;
  readonly addresses: CidrList;
  readonly aeTitles: readonly string[];
  readonly role: string;
}

/** The legacyDevices table, indexed for the accept path. */
export class LegacyDevices {
  readonly #entries: readonly LegacyEntry[];

  constructor(devices: Readonly<Record<string, LegacyDevice>>) {
    this.#entries = Object.entries(devices).sort(([a], [b]) => a.localeCompare(b)).map(([name, d]) => ({
      name, addresses: new CidrList(d.addresses), aeTitles: d.aeTitles.map((t) => t.trim()), role: d.role ?? LEGACY_DEFAULT_ROLE,
    }));
  }

  /** The devices that may connect from `address` (in name order); empty: the connection is closed unread. */
  from(address: string): LegacyEntry[] {
    return this.#entries.filter((e) => e.addresses.has(address));
  }

  get size(): number { return this.#entries.length; }
}

const capped = new WeakMap<object, Readonly<Record<string, RoleRules>>>();

/**
 * The role table as the legacy port applies it: every role's actions cut to LEGACY_ACTIONS (the
 * config checks refuse more; this holds even for a role table reloaded past them), and
 * `legacy-modality` present (echo, store) unless the roles define it. Memoised per role table.
 */
export function legacyRoles(roles: Readonly<Record<string, RoleRules>>): Readonly<Record<string, RoleRules>> {
  const hit = capped.get(roles);
  if (hit !== undefined) return hit;
  const out: Record<string, RoleRules> = {};
  for (const [name, r] of Object.entries(roles)) out[name] = Object.freeze({ ...r, actions: r.actions.filter((a) => LEGACY_ACTIONS.includes(a)), moveDestinations: [] });
  if (!Object.hasOwn(out, LEGACY_DEFAULT_ROLE)) out[LEGACY_DEFAULT_ROLE] = DEFAULT_RULES;
  const frozen = Object.freeze(out);
  capped.set(roles, frozen);
  return frozen;
}

/** Problems with listen.dicomLegacy and legacyDevices, worded like the other config errors (load.ts). */
export function legacyProblems(listenLegacy: unknown, devices: Readonly<Record<string, Partial<LegacyDevice>>> | undefined, roles: Readonly<Record<string, RoleRules>>): string[] {
  const problems: string[] = [];
  const entries = Object.entries(devices ?? {});
  if (listenLegacy !== undefined && entries.length === 0) {
    problems.push('listen.dicomLegacy: set, but legacyDevices is empty: every connection would be refused (add legacyDevices, or remove listen.dicomLegacy)');
  }
  const beyond = (r: RoleRules | undefined): Action[] => (Array.isArray(r?.actions) ? r.actions.filter((a) => !LEGACY_ACTIONS.includes(a)) : []);
  const why = 'a legacy device may only echo and store (anything else would send patient data in cleartext or act on an unauthenticated channel)';
  let defaultUsed = false;
  for (const [name, d] of entries) {
    (Array.isArray(d.addresses) ? d.addresses : []).forEach((a, i) => {
      const problem = typeof a === 'string' ? cidrProblem(a) : undefined;
      if (problem !== undefined) problems.push(`legacyDevices.${name}.addresses[${i}]: "${a}" ${problem}`);
    });
    if (d.role === undefined) { defaultUsed = true; continue; }
    if (!Object.hasOwn(roles, d.role)) {
      problems.push(`legacyDevices.${name}.role: no such role in roles (${Object.keys(roles).join(', ')}); leave it out for ${LEGACY_DEFAULT_ROLE} (echo, store)`);
      continue;
    }
    const extra = beyond(roles[d.role]);
    if (extra.length > 0) problems.push(`legacyDevices.${name}.role: role "${d.role}" allows ${extra.join(', ')}; ${why}`);
  }
  const extra = beyond(Object.hasOwn(roles, LEGACY_DEFAULT_ROLE) ? roles[LEGACY_DEFAULT_ROLE] : undefined);
  if (defaultUsed && extra.length > 0) problems.push(`roles.${LEGACY_DEFAULT_ROLE}: allows ${extra.join(', ')}, and legacy devices without a role use it; ${why}`);
  return problems;
}
