// Stops everything the bench started, in reverse order, on success, error, Ctrl-C or the overall deadline.

type Step = { readonly name: string; readonly fn: () => void | Promise<void> };

const STEP_TIMEOUT_MS = 15_000;

/** A LIFO list of teardown steps; `run()` is idempotent and never throws. */
export class Cleanup {
  readonly #steps: Step[] = [];
  #running: Promise<void> | undefined;

  /** Registers a teardown step; returns a function that runs it now (and only once). */
  add(name: string, fn: () => void | Promise<void>): () => Promise<void> {
    const step: Step = { name, fn };
    this.#steps.push(step);
    return async () => {
      const i = this.#steps.indexOf(step);
      if (i < 0) return;
      this.#steps.splice(i, 1);
      await runStep(step);
    };
  }

  /** Runs every remaining step, newest first, each bounded in time. */
  run(): Promise<void> {
    this.#running ??= (async () => {
      while (this.#steps.length > 0) {
        const step = this.#steps.pop() as Step;
        await runStep(step);
      }
    })();
    return this.#running;
  }
}

async function runStep(step: Step): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(step.fn),
      new Promise<void>((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), STEP_TIMEOUT_MS); }),
    ]);
  } catch (err) {
    process.stderr.write(`bench: cleanup "${step.name}" failed: ${(err as Error).message}\n`);
  } finally {
    clearTimeout(timer);
  }
}
