// The least-privilege decision: may this principal perform this action (with these details)?

import type { RoleRules } from '../config/types.js';
import type { Principal } from '../identity/principal.js';
import type { Action } from './actions.js';

export interface AuthzRequest {
  readonly action: Action;
  /** C-MOVE Move Destination AE title. */
  readonly moveDestination?: string;
  /** SOP Class UID of a C-STORE (or STOW part, when known). */
  readonly sopClassUid?: string;
}

export interface AuthzDecision {
  readonly allowed: boolean;
  /** Machine-readable reason, e.g. `role-lacks-action`, `move-destination-not-allowed`. */
  readonly reason: string;
}

/** Decides one request against the role table. Unknown roles are denied everything. */
export function authorize(roles: Readonly<Record<string, RoleRules>>, principal: Principal, req: AuthzRequest): AuthzDecision {
  const rules = Object.hasOwn(roles, principal.role) ? roles[principal.role] : undefined;
  if (rules === undefined) return { allowed: false, reason: 'role-unknown' };
  if (!rules.actions.includes(req.action)) return { allowed: false, reason: 'role-lacks-action' };
  if (req.action === 'move') {
    const dest = req.moveDestination?.trim() ?? '';
    const allowed = [...rules.moveDestinations, ...(principal.moveDestinations ?? [])];
    if (dest === '' || !allowed.includes(dest)) return { allowed: false, reason: 'move-destination-not-allowed' };
  }
  if (req.action === 'store' && rules.storeSopClasses.length > 0) {
    if (req.sopClassUid === undefined || !rules.storeSopClasses.includes(req.sopClassUid)) {
      return { allowed: false, reason: 'sop-class-not-allowed' };
    }
  }
  return { allowed: true, reason: 'role-allows' };
}
