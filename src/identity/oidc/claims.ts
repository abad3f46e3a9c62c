// What the gateway takes from a verified ID token: proof of MFA, the role, the username. Pure functions.

import { USERNAME_PATTERN } from '../user-record.js';

export type Claims = Readonly<Record<string, unknown>>;

export interface MfaRule { readonly acr?: readonly string[]; readonly amr?: readonly string[] }

/** Whether the ID token proves MFA: its acr is an accepted value, or its amr holds an accepted entry. */
export function mfaSatisfied(claims: Claims, rule: MfaRule): boolean {
  const acr = claims['acr'];
  if (typeof acr === 'string' && (rule.acr ?? []).includes(acr)) return true;
  const amr = claims['amr'];
  return Array.isArray(amr) && amr.some((a) => typeof a === 'string' && (rule.amr ?? []).includes(a));
}

/** What the token said about MFA, for the audit trail (never more than a few short values). */
export function mfaFacts(claims: Claims): { acr?: string; amr?: string[] } {
  const acr = claims['acr'];
  const amr = claims['amr'];
  return {
    ...(typeof acr === 'string' ? { acr: acr.slice(0, 128) } : {}),
    ...(Array.isArray(amr) ? { amr: amr.filter((a): a is string => typeof a === 'string').slice(0, 8).map((a) => a.slice(0, 32)) } : {}),
  };
}

/** The values of the role claim: a string or a list of strings; anything else is none. */
export function claimValues(claims: Claims, name: string): string[] {
  const v = claims[name];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

export type RoleResult = { readonly ok: true; readonly role: string; readonly value: string } | { readonly ok: false; readonly values: string[] };

/**
 * The gateway role of a user: roleMap's first entry (in the order the config lists them, so put
 * the most privileged group first or last as the hospital decides) whose claim value the user
 * has. None mapped: refused, never a default role.
 */
export function roleOf(claims: Claims, roleClaim: string, roleMap: Readonly<Record<string, string>>): RoleResult {
  const values = claimValues(claims, roleClaim);
  const held = new Set(values);
  for (const [value, role] of Object.entries(roleMap)) {
    if (held.has(value)) return { ok: true, role, value };
  }
  return { ok: false, values: values.slice(0, 16).map((v) => v.slice(0, 128)) };
}

/** The gateway username: the claim's value in lower case, if it is a valid gateway username. */
export function usernameOf(claims: Claims, usernameClaim: string): string | undefined {
  const v = claims[usernameClaim];
  if (typeof v !== 'string') return undefined;
  const u = v.trim().toLowerCase();
  return USERNAME_PATTERN.test(u) ? u : undefined;
}
