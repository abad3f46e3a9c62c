// The coverage-guided loop: run seeds, mutate the corpus, keep inputs that reach new blocks, shrink failures with fast-check.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { BlockCoverage } from './coverage.js';
import { mutate } from './mutate.js';
import { Prng } from './prng.js';
import { isGatewayError, Violation, type FuzzTarget } from './target.js';

export interface FuzzOptions {
  readonly seed: number;
  /** Stop after this many executions (of new inputs; seeds included). */
  readonly runs?: number;
  /** Stop after this long. */
  readonly timeMs?: number;
  /** Folders of seed inputs, one file per input (libFuzzer layout). Missing folders are skipped. */
  readonly corpusDirs: readonly string[];
  /** Where inputs that reached new blocks are written (optional; the committed corpus is not touched). */
  readonly corpusOut?: string;
  /** Where shrunk failing inputs are written. */
  readonly crashDir?: string;
  /** Coverage feedback on (default) or off (pure mutation of the seeds). */
  readonly coverage?: boolean;
  /** Executions between two coverage reads (default 256). */
  readonly batch?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

export interface FuzzFailure {
  readonly message: string;
  /** The smallest input fast-check shrank it to (still failing the same way). */
  readonly input: Buffer;
  readonly originalLength: number;
  readonly file?: string;
}

export interface FuzzReport {
  readonly target: string;
  readonly seed: number;
  readonly executions: number;
  /** Seeds run (corpus folders, regressions, built-in). */
  readonly seeds: number;
  /** Inputs kept because they reached new blocks (seeds included). */
  readonly corpus: number;
  /** Lines with code of the target's files (compiled JavaScript) on which code ran, and all such lines. */
  readonly lines: number;
  readonly codeLines: number;
  readonly durationMs: number;
  readonly failures: readonly FuzzFailure[];
}

type Outcome = string | undefined;

/** One execution: undefined when every property held, else what failed. */
function execute(target: FuzzTarget, input: Buffer): Outcome | Promise<Outcome> {
  const expected = target.expected ?? isGatewayError;
  const judge = (err: unknown): Outcome => {
    if (err instanceof Violation) return `property: ${err.message}`;
    if (expected(err)) return undefined;
    const e = err as { constructor?: { name?: string }; message?: unknown } | null;
    return `unexpected ${e?.constructor?.name ?? typeof err}: ${String(e?.message ?? err)}`;
  };
  try {
    const r = target.run(input);
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') return (r as Promise<void>).then(() => undefined, judge);
    return undefined;
  } catch (err) {
    return judge(err);
  }
}

/** What identifies "the same failure" while shrinking: the kind and message without numbers. */
function signature(message: string): string {
  return message.replace(/0x[0-9a-f]+|[0-9]+/gi, '#').slice(0, 120);
}

function readSeeds(dirs: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isFile() && !name.startsWith('.') && !name.endsWith('.md')) out.push(readFileSync(p));
    }
  }
  return out;
}

function hashOf(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex').slice(0, 16);
}

async function shrink(target: FuzzTarget, input: Buffer, message: string, maxLength: number): Promise<Buffer> {
  const sig = signature(message);
  const stillFails = async (a: Uint8Array): Promise<boolean> => {
    const out = await execute(target, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    return out !== undefined && signature(out) === sig;
  };
  const r = await fc.check(
    fc.asyncProperty(fc.uint8Array({ maxLength: Math.max(maxLength, input.length) }), async (a) => !(await stillFails(a))),
    { examples: [[new Uint8Array(input)]], numRuns: 1, seed: 1, interruptAfterTimeLimit: 30_000, markInterruptAsFailure: false },
  );
  const c = r.counterexample?.[0];
  return c === undefined ? input : Buffer.from(c);
}

/** Runs one target and reports executions, coverage and failures. */
export async function fuzz(target: FuzzTarget, o: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const log = o.log ?? (() => undefined);
  const prng = new Prng(o.seed);
  const maxLength = target.maxLength ?? 4096;
  const dictionary = (target.dictionary ?? []).map((t) => (typeof t === 'string' ? Buffer.from(t, 'latin1') : t));
  const batch = o.batch ?? 256;
  const useCoverage = o.coverage ?? true;
  await target.setup?.();
  const cov = useCoverage ? new BlockCoverage(target.files) : undefined;
  const corpus: Buffer[] = [];
  const failures: FuzzFailure[] = [];
  const seen = new Set<string>();
  let executions = 0;

  const fail = async (input: Buffer, message: string): Promise<void> => {
    const sig = signature(message);
    if (seen.has(sig)) return;
    seen.add(sig);
    log(`${target.name}: FAILURE ${message}`);
    const small = await shrink(target, input, message, maxLength);
    let file: string | undefined;
    if (o.crashDir !== undefined) {
      mkdirSync(join(o.crashDir, target.name), { recursive: true });
      file = join(o.crashDir, target.name, `crash-${hashOf(small)}`);
      writeFileSync(file, small);
    }
    failures.push({ message, input: small, originalLength: input.length, ...(file === undefined ? {} : { file }) });
  };
  const keep = (input: Buffer): void => {
    corpus.push(input);
    if (o.corpusOut !== undefined) {
      mkdirSync(join(o.corpusOut, target.name), { recursive: true });
      writeFileSync(join(o.corpusOut, target.name, hashOf(input)), input);
    }
  };
  /**
   * Something in `inputs` reached a new block: find which inputs did by bisection (halves whose
   * re-run reaches nothing new are dropped), so a batch costs a few coverage reads, not one per input.
   */
  const attribute = async (inputs: readonly Buffer[]): Promise<void> => {
    if (cov === undefined) return;
    if (inputs.length === 1) {
      const r = execute(target, inputs[0] as Buffer);
      if (typeof r === 'object') await r;
      if (cov.take() > 0) keep(inputs[0] as Buffer);
      return;
    }
    const half = inputs.length >> 1;
    for (const part of [inputs.slice(0, half), inputs.slice(half)]) {
      for (const input of part) {
        const r = execute(target, input);
        if (typeof r === 'object') await r;
      }
      if (cov.take() > 0) await attribute(part);
    }
  };
  const runOne = async (input: Buffer): Promise<void> => {
    executions++;
    const r = execute(target, input);
    const out = typeof r === 'object' ? await r : r;
    if (out !== undefined) await fail(input, out);
  };

  try {
    const seeds = [...readSeeds(o.corpusDirs), ...(target.seeds?.() ?? [])];
    for (const s of seeds) {
      await runOne(s);
      if (cov === undefined || cov.take() > 0 || corpus.length === 0) keep(s);
    }
    if (corpus.length === 0) keep(Buffer.alloc(0));
    log(`${target.name}: ${seeds.length} seeds, ${corpus.length} kept, ${cov?.summary.lines ?? 0} lines`);
    const deadline = o.timeMs === undefined ? Infinity : started + o.timeMs;
    const limit = o.runs ?? Infinity;
    let round = 0;
    let lastLog = Date.now();
    while (executions < limit && Date.now() < deadline) {
      const n = Math.min(batch, limit - executions);
      const generated = target.generate === undefined ? [] : fc.sample(target.generate, { seed: o.seed + round, numRuns: Math.ceil(n / 8) });
      round++;
      const inputs: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const g = generated[i >> 3];
        if (g !== undefined && (i & 7) === 0) { inputs.push(g); continue; }
        // Newer corpus entries (deeper inputs) are picked more often than the seeds.
        const base = prng.oneIn(2) ? corpus[corpus.length - 1 - prng.below(Math.min(corpus.length, 64))] : prng.pick(corpus);
        inputs.push(mutate(base ?? Buffer.alloc(0), { prng, corpus, dictionary, maxLength }));
      }
      for (const input of inputs) await runOne(input);
      if (cov !== undefined && cov.take() > 0) await attribute(inputs);
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        const s = cov?.summary;
        log(`${target.name}: ${executions} execs, ${Math.round(executions / ((Date.now() - started) / 1000))}/s, corpus ${corpus.length}, lines ${s?.lines ?? '-'}/${s?.codeLines ?? '-'}, failures ${failures.length}`);
      }
    }
    const s = cov?.summary ?? { lines: 0, codeLines: 0 };
    return {
      target: target.name, seed: o.seed, executions, seeds: seeds.length, corpus: corpus.length,
      lines: s.lines, codeLines: s.codeLines, durationMs: Date.now() - started, failures,
    };
  } finally {
    cov?.close();
    await target.teardown?.();
  }
}
