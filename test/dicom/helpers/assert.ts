// Test assertion helpers for the DICOM parsers (not a test file itself).

import type { Test } from 'tap';
import { PduError } from '../../../src/dicom/pdu-error.js';

/** Asserts that `fn` throws a PduError with the given A-ABORT reason and a message matching `pattern`. */
export function throwsPdu(t: Test, fn: () => unknown, reason: number, pattern: RegExp, message?: string): void {
  try {
    fn();
  } catch (err) {
    t.ok(err instanceof PduError, message ?? 'throws PduError');
    t.equal((err as PduError).abortReason, reason, `abort reason ${reason}`);
    t.match((err as Error).message, pattern);
    return;
  }
  t.fail(`${message ?? 'expected a PduError'}: nothing thrown`);
}
