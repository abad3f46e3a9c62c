// The periodic re-check of an established association: its absolute lifetime, then the principal's credential.

import type { Logger } from '../audit/logger.js';
import type { Principal } from '../identity/principal.js';
import type { Revalidation } from '../identity/resolver.js';
import { callingAeAllowed } from './admission.js';
import { auditAssociation, type ConnectionFacts } from './association-audit.js';
import type { AssociationDeps } from './association-deps.js';

export interface RevalidatorContext {
  readonly deps: AssociationDeps;
  readonly facts: ConnectionFacts;
  readonly log: Logger;
  readonly principal: Principal;
  /** When the association was established (deps.clock), for dicom.maxAssociationHours. */
  readonly establishedAt: number;
  readonly isClosed: () => boolean;
  /** A-ABORT to both peers. */
  readonly abort: () => void;
}

export class Revalidator {
  readonly #c: RevalidatorContext;
  #valid = true;
  #rechecking = false;

  constructor(context: RevalidatorContext) {
    this.#c = context;
  }

  /** False once a re-check has failed: the command guard then refuses every request. */
  get principalValid(): boolean { return this.#valid; }

  /** One re-check (a no-op while one is under way or the association is over). */
  async run(): Promise<void> {
    const { deps, facts, log, principal: p } = this.#c;
    if (this.#c.isClosed() || !this.#valid || this.#rechecking) return;
    const maxHours = deps.config.dicom.maxAssociationHours;
    if (deps.clock() - this.#c.establishedAt >= maxHours * 3_600_000) {
      log.info({ principal: p.id, maxAssociationHours: maxHours }, 'association reached its maximum lifetime; aborting');
      auditAssociation(deps.audit, facts, { decision: 'deny', reason: 'association-lifetime-exceeded', principal: p, phase: 'lifetime', detail: `open for ${maxHours} h (dicom.maxAssociationHours)` });
      return this.#c.abort();
    }
    let check: Revalidation | undefined;
    this.#rechecking = true;
    try {
      check = await deps.identity.stillValid(p);
    } catch (err) {
      // Fail closed: a principal that cannot be re-checked (state store down) keeps no access.
      log.warn({ err: { message: (err as Error).message } }, 'could not re-check the principal; aborting the association');
    } finally {
      this.#rechecking = false;
    }
    if (this.#c.isClosed()) return;
    // The calling AE title, against the titles the principal and its role are bound to now (as admission
    // checked them; the legacy port's admission binds titles per device only, legacy-admission.ts).
    const roles = deps.cleartext === undefined ? deps.config.roles : {};
    if (check?.valid === true && !callingAeAllowed(facts.callingAe ?? '', check.aeTitles, p.role, roles)) check = { valid: false, reason: 'calling-ae-not-allowed' };
    if (check?.valid === true) return;
    const reason = check?.reason ?? 'unverifiable';
    this.#valid = false;
    log.warn({ principal: p.id, reason }, 'principal no longer valid; aborting association');
    auditAssociation(deps.audit, facts, { decision: 'deny', reason: 'principal-no-longer-valid', principal: p, phase: 'revalidation', detail: reason });
    this.#c.abort();
  }
}
