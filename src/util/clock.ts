// An injectable clock, so TOTP windows, lockouts and session expiry are tested without sleeping.

/** Returns the current time in milliseconds since the epoch. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
