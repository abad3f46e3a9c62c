// The association-limit slots one association holds (dicom.maxAssociations, …PerPrincipal), released once.

import type { AssociationLimits } from './limits.js';

export class LimitSlots {
  readonly #limits: AssociationLimits;
  #counted = false;
  #principal: string | undefined;

  constructor(limits: AssociationLimits) {
    this.#limits = limits;
  }

  /** Takes a slot of dicom.maxAssociations; false when none is free. */
  tryOpen(): boolean {
    if (!this.#limits.tryOpen()) return false;
    this.#counted = true;
    return true;
  }

  /** Takes a slot of dicom.maxAssociationsPerPrincipal for `principalId`; false when none is free. */
  tryPrincipal(principalId: string): boolean {
    if (!this.#limits.tryPrincipal(principalId)) return false;
    this.#principal = principalId;
    return true;
  }

  /** Gives back whatever is held (idempotent). */
  release(): void {
    if (this.#counted) {
      this.#counted = false;
      this.#limits.close();
    }
    if (this.#principal !== undefined) {
      this.#limits.releasePrincipal(this.#principal);
      this.#principal = undefined;
    }
  }
}
