// What a fuzz target is: one parser fed untrusted bytes, with the properties it must keep.

import type { Arbitrary } from 'fast-check';
import { GatewayError } from '../../../src/errors.js';

/** A property of the target failed for an input (not merely "the parser refused it"). */
export class Violation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Violation';
  }
}

/** Throws a Violation unless `ok`. */
export function must(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Violation(what);
}

export interface FuzzTarget {
  /** The name used on the command line and as the corpus folder, e.g. `pdu-reader`. */
  readonly name: string;
  /** One line: what is fed where, and which properties are checked. */
  readonly about: string;
  /** Source files (without extension) whose blocks count as coverage, e.g. `src/dicom/pdu-reader`. */
  readonly files: readonly string[];
  /** Largest input the mutator produces. */
  readonly maxLength?: number;
  /** Tokens of the input language for the mutator. */
  readonly dictionary?: readonly (string | Buffer)[];
  /** Seeds built in code (with the project's own builders), used besides the corpus folder. */
  seeds?(): Buffer[];
  /** Structured inputs from fast-check, mixed in with the mutations (one in `generateEvery`). */
  readonly generate?: Arbitrary<Buffer>;
  /** Resources an execution needs (servers, keys); called once before the run. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /**
   * One execution. Returning (or resolving) means the input was handled; throwing a Violation is
   * a failure; any other error is a failure unless `expected(err)` says it is the parser's own refusal.
   */
  run(input: Buffer): void | Promise<void>;
  /** The parser's own refusals (default: any GatewayError, which includes PduError). */
  expected?(err: unknown): boolean;
}

/** The default refusal check: the gateway's own error type, never TypeError, RangeError, … */
export function isGatewayError(err: unknown): boolean {
  return err instanceof GatewayError;
}

/**
 * Runs `fn` and records the largest Buffer allocation it made (Buffer.alloc, allocUnsafe,
 * allocUnsafeSlow), whether it returned or threw; what it threw is rethrown after the check
 * `check(largest)` (which throws a Violation when a cap was passed).
 */
export function withAllocationCap<T>(fn: () => T, cap: number, what: string): T {
  const B = Buffer as unknown as Record<'alloc' | 'allocUnsafe' | 'allocUnsafeSlow', (n: number, ...rest: unknown[]) => Buffer>;
  const saved = { alloc: B.alloc, allocUnsafe: B.allocUnsafe, allocUnsafeSlow: B.allocUnsafeSlow };
  let largest = 0;
  for (const k of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const orig = saved[k];
    B[k] = function (this: unknown, n: number, ...rest: unknown[]) {
      if (n > largest) largest = n;
      return orig.call(Buffer, n, ...rest);
    };
  }
  let failed = false;
  let error: unknown;
  let result: T | undefined;
  try {
    result = fn();
  } catch (err) {
    failed = true;
    error = err;
  } finally {
    Object.assign(B, saved);
  }
  must(largest <= cap, `${what} allocated ${largest} bytes, over the cap of ${cap}`);
  if (failed) throw error;
  return result as T;
}
