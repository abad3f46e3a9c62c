// What every scenario gets: the running environment, the options and a progress logger.

import type { BenchEnv } from '../lib/environment.js';
import type { BenchUser } from '../lib/identities.js';
import type { BenchOptions } from '../lib/options.js';

export interface BenchContext {
  readonly env: BenchEnv;
  readonly options: BenchOptions;
  /** Progress on stderr (stdout is for the results table). */
  readonly log: (line: string) => void;
  /** Path of wrk's Lua report script. */
  readonly wrkScript: string;
  /** A user for one DICOM user-identity association (each is used once: a TOTP code is accepted once). */
  nextIdentityUser(): BenchUser;
  /** Bearer tokens of sessions on the fast gateway (from the login scenario; at least the viewer's). */
  readonly sessionTokens: string[];
}

/** A variant's process whose CPU time is "the proxy's cost" (none for direct access). */
export type ProxyComponent = 'gateway' | 'gateway-fast' | 'stunnel' | 'nginx' | undefined;

/** Megabytes as the report counts them (10^6 bytes). */
export const MB = 1e6;
