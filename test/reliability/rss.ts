// Samples a process's resident set size from /proc (Linux), so a test can say whether memory stayed bounded.

import { readFileSync } from 'node:fs';

export class RssSampler {
  readonly #pid: () => number | undefined;
  readonly samples: { readonly atMs: number; readonly mb: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #started = Date.now();

  constructor(pid: () => number | undefined) {
    this.#pid = pid;
  }

  /** The current RSS of the process in MB, or undefined when it is not running. */
  sample(): number | undefined {
    const pid = this.#pid();
    if (pid === undefined) return undefined;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m === null) return undefined;
      const mb = Number(m[1]) / 1024;
      this.samples.push({ atMs: Date.now() - this.#started, mb });
      return mb;
    } catch {
      return undefined;
    }
  }

  start(everyMs: number): void {
    this.#timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  summary(): { readonly maxMb: number; readonly firstMb: number; readonly lastMb: number; readonly samples: number } {
    const mbs = this.samples.map((s) => s.mb);
    return { maxMb: Math.max(0, ...mbs), firstMb: mbs[0] ?? 0, lastMb: mbs.at(-1) ?? 0, samples: mbs.length };
  }
}
