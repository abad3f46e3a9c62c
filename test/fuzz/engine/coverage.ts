// Coverage feedback from V8's own precise block coverage (node:inspector), read for the target's source files only.

import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { fileURLToPath } from 'node:url';

interface Range { readonly startOffset: number; readonly endOffset: number; readonly count: number }
interface FunctionCoverage { readonly functionName: string; readonly ranges: readonly Range[] }
interface ScriptCoverage { readonly url: string; readonly functions: readonly FunctionCoverage[] }

interface Script {
  readonly url: string;
  /** 1 for every source offset executed at least once over the run. */
  covered: Uint8Array;
}

/**
 * Which source bytes of some files have run. V8 counts executions per block (`callCount: true,
 * detailed: true`) and every `take()` resets the counters. V8 merges neighbouring blocks with equal
 * counts, so block ranges are not stable identities; the set of executed source offsets is. A take
 * reports which offsets ran since the last one; offsets never seen before are new coverage.
 */
export class BlockCoverage {
  readonly #session = new Session();
  readonly #files: readonly string[];
  readonly #scripts = new Map<string, Script | null>();
  #scratch = new Uint8Array(1 << 16);

  /** `files`: source paths without extension, e.g. `src/dicom/pdu-reader`; only their code counts. */
  constructor(files: readonly string[]) {
    this.#files = files;
    this.#session.connect();
    this.#post('Profiler.enable');
    this.#post('Profiler.startPreciseCoverage', { callCount: true, detailed: true, allowTriggeredUpdates: false });
    this.take();
  }

  #post(method: string, params?: object): unknown {
    let result: unknown;
    let error: Error | null = null;
    // node:inspector's in-thread session answers synchronously.
    this.#session.post(method, params, (err, r) => { error = err; result = r; });
    if (error !== null) throw error;
    return result;
  }

  #script(url: string): Script | null {
    let s = this.#scripts.get(url);
    if (s !== undefined) return s;
    s = this.#files.some((f) => url.includes(`/${f}.`)) && !url.includes('/node_modules/') ? { url, covered: new Uint8Array(0) } : null;
    this.#scripts.set(url, s);
    return s;
  }

  /**
   * Reads what ran since the last take and folds it into the run's coverage; returns how many
   * source offsets ran for the first time (0 = nothing new).
   */
  take(): number {
    const { result } = this.#post('Profiler.takePreciseCoverage') as { result: readonly ScriptCoverage[] };
    let fresh = 0;
    for (const sc of result) {
      const s = this.#script(sc.url);
      if (s === null) continue;
      for (const fn of sc.functions) {
        const outer = fn.ranges[0];
        if (outer === undefined || outer.count === 0) continue;
        const { startOffset: base, endOffset: end } = outer;
        if (end > s.covered.length) {
          const grown = new Uint8Array(Math.max(end, s.covered.length * 2));
          grown.set(s.covered);
          s.covered = grown;
        }
        if (end - base > this.#scratch.length) this.#scratch = new Uint8Array(end - base);
        const scratch = this.#scratch;
        // Ranges come outermost first; inner ones override (an untaken branch inside a taken function).
        for (const r of fn.ranges) scratch.fill(r.count > 0 ? 1 : 0, r.startOffset - base, r.endOffset - base);
        const cov = s.covered;
        for (let i = 0; i < end - base; i++) {
          if (scratch[i] === 1 && cov[base + i] === 0) { cov[base + i] = 1; fresh++; }
        }
      }
    }
    return fresh;
  }

  /**
   * Line coverage of the target's files so far (of the compiled JavaScript the process runs):
   * lines with code on which some code ran, and lines with code.
   */
  get summary(): { readonly lines: number; readonly codeLines: number } {
    let lines = 0;
    let codeLines = 0;
    for (const s of this.#scripts.values()) {
      if (s === null) continue;
      let text: string;
      try { text = readFileSync(fileURLToPath(s.url), 'utf8'); } catch { continue; }
      let at = 0;
      for (const line of text.split('\n')) {
        const code = line.replace(/\/\/.*$/, '').trim();
        const isCode = code !== '' && !/^[{}()[\];,]*$/.test(code) && !code.startsWith('*') && !code.startsWith('/*') && !code.startsWith('import ') && !code.startsWith('export {');
        if (isCode) {
          codeLines++;
          const first = at + line.search(/\S/);
          for (let i = first; i < at + line.length; i++) if (s.covered[i] === 1) { lines++; break; }
        }
        at += line.length + 1;
      }
    }
    return { lines, codeLines };
  }

  close(): void {
    this.#post('Profiler.stopPreciseCoverage');
    this.#session.disconnect();
  }
}
