// Counters for the association limits: overall and per principal (config.dicom.maxAssociations*).

/** Tracks open associations; `tryOpen` / `tryPrincipal` refuse once a limit is reached. */
export class AssociationLimits {
  readonly #max: number;
  readonly #maxPerPrincipal: number;
  #open = 0;
  readonly #perPrincipal = new Map<string, number>();

  constructor(max: number, maxPerPrincipal: number) {
    this.#max = max;
    this.#maxPerPrincipal = maxPerPrincipal;
  }

  /** Associations counted now (admitted, or being admitted). */
  get open(): number { return this.#open; }

  tryOpen(): boolean {
    if (this.#open >= this.#max) return false;
    this.#open++;
    return true;
  }

  close(): void {
    if (this.#open > 0) this.#open--;
  }

  tryPrincipal(id: string): boolean {
    const n = this.#perPrincipal.get(id) ?? 0;
    if (n >= this.#maxPerPrincipal) return false;
    this.#perPrincipal.set(id, n + 1);
    return true;
  }

  releasePrincipal(id: string): void {
    const n = this.#perPrincipal.get(id) ?? 0;
    if (n <= 1) this.#perPrincipal.delete(id);
    else this.#perPrincipal.set(id, n - 1);
  }
}
