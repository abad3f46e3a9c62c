// The page a browser goes back to after sign-in (`next`): a path on this origin, or `/`.

/**
 * What may follow the leading `/`: RFC 3986 path, query and fragment characters (unreserved,
 * sub-delims, ":", "@", "/", "?", "#", "%"). No backslash (browsers read `/\host` as `//host`),
 * no whitespace or controls (stripped by browsers, so `/\t/host` is `//host`).
 */
const LOCAL = /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/?#%]*$/;
/** A %-encoded slash or backslash in the path: refused, so no layer that decodes once can turn it into `//host`. */
const ENCODED_SEPARATOR = /%(2f|5c)/i;
/** A %-encoded control anywhere: refused (no header break, whoever decodes it). */
const ENCODED_CONTROL = /%([01][0-9a-f]|7f)/i;
const BASE = 'https://gateway.invalid';

/** `raw` if it is a local path (at most 2048 characters), otherwise `/`. */
export function localNext(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 2048 || !LOCAL.test(raw) || ENCODED_CONTROL.test(raw)) return '/';
  // In the query or fragment an encoded "/" is data (a date filter, a search term), not a path separator.
  if (ENCODED_SEPARATOR.test(raw.split(/[?#]/, 1)[0] as string)) return '/';
  // `/@host` and friends are paths, but check the way a browser resolves it anyway.
  try {
    if (new URL(raw, BASE).origin !== BASE) return '/';
  } catch {
    return '/';
  }
  return raw;
}
