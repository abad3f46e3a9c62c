// TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps, ±1 step) on otplib, with the step a code matched.

import { randomBytes } from 'node:crypto';
import { generateURI, verify } from 'otplib';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
const SECRET_BYTES = 20; // 160 bits, RFC 4226 §4 R6 recommends 160

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** A new TOTP secret: 160 bits from the CSPRNG, base32 without padding (32 characters). */
export function generateTotpSecret(): string {
  return base32(randomBytes(SECRET_BYTES));
}

/** The otpauth:// URI an authenticator app scans. */
export function totpUri(secret: string, username: string, issuer = 'pacs-gateway'): string {
  return generateURI({ issuer, label: username, secret, digits: TOTP_DIGITS, period: TOTP_PERIOD_SECONDS, algorithm: 'sha1' });
}

/**
 * Checks a code at time `nowMs`, accepting one step either side (RFC 6238 §5.2).
 * Returns the time step the code belongs to (for replay marks), or null.
 */
export async function matchTotp(secret: string, code: string, nowMs: number): Promise<number | null> {
  if (!/^[0-9]{6}$/.test(code)) return null;
  try {
    const epoch = Math.floor(nowMs / 1000);
    const result = await verify({
      secret, token: code, epoch,
      epochTolerance: TOTP_PERIOD_SECONDS, period: TOTP_PERIOD_SECONDS, digits: TOTP_DIGITS, algorithm: 'sha1',
    });
    return result.valid ? Math.floor(epoch / TOTP_PERIOD_SECONDS) + result.delta : null;
  } catch {
    return null;
  }
}
