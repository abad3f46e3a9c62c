// After `users disable`, `reset-totp` or `set-password`: end the user's session and DIMSE tokens in the shared state store.

import type { GatewayConfig } from '../config/types.js';
import { GatewayError } from '../errors.js';
import { SessionService, type RevocationReason } from '../identity/sessions.js';
import { RedisStore } from '../state/redis-store.js';
import { systemClock } from '../util/clock.js';

/**
 * With `state.store: redis`, ends the user's session (and so every DIMSE token it issued) in
 * Redis at once, for every replica (SessionService.revokeUser). With the memory store the state
 * lives inside the running gateway, which this process cannot reach: the gateway ends them itself,
 * because every session, token and association is checked against the user record it reloads
 * (disabled, or a password or TOTP secret other than the login's). Returns what happened, for the admin.
 */
export async function endUserSessions(config: GatewayConfig, username: string, reason: RevocationReason): Promise<string> {
  const effect = 'their sessions, DIMSE tokens and associations end now';
  if (config.state.store !== 'redis') return `${effect} (the gateway reloads the users file)`;
  try {
    const ended = await revokeInStore(config, username, reason);
    return `${effect} on every replica${ended ? ' (their sessions ended in the state store)' : ''}`;
  } catch (err) {
    throw new GatewayError('ERR_STORE_UNAVAILABLE', `the change to ${username} is saved, but their session could not be ended in the state store (${(err as Error).message}); every gateway still refuses it at its next use or re-check, because the account changed`, { cause: err });
  }
}

/**
 * `users end-sessions`: ends every session and DIMSE token of `username` (a local, directory or
 * identity-provider user alike: they share the session store's per-user index) on every replica.
 * Nothing else changes, so the user may sign in again. Needs `state.store: redis`: the memory
 * store lives inside the running gateway, out of this process's reach. Resolves whether one ended.
 */
export async function endSessionsNow(config: GatewayConfig, username: string): Promise<boolean> {
  if (config.state.store !== 'redis') {
    throw new GatewayError('ERR_USAGE', 'users end-sessions needs state.store: redis (with the memory store the sessions live inside the running gateway, out of this command\'s reach; a local user: users disable; an IdP user: end their session at the IdP, whose back-channel logout ends the gateway\'s)');
  }
  try {
    return await revokeInStore(config, username, 'ended-by-admin');
  } catch (err) {
    throw new GatewayError('ERR_STORE_UNAVAILABLE', `the sessions of ${username} could not be ended in the state store (${(err as Error).message}); nothing changed`, { cause: err });
  }
}

async function revokeInStore(config: GatewayConfig, username: string, reason: RevocationReason): Promise<boolean> {
  const store = new RedisStore({ redis: config.state.redis, keyPrefix: config.state.keyPrefix, baseDir: config.baseDir });
  try {
    const sessions = new SessionService({
      store, clock: systemClock,
      // Only signing needs the key, and nothing is signed here.
      signingKey: new TextEncoder().encode(config.session.signingKey ?? ''),
      idleMs: config.session.idleMinutes * 60_000, maxMs: config.session.maxHours * 3_600_000,
      dimseTokenMs: config.session.dimseTokenMinutes * 60_000, maxPerUser: config.session.maxPerUser,
    });
    return await sessions.revokeUser(username, reason);
  } finally {
    await store.close();
  }
}
