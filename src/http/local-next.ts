// The page a browser goes back to after sign-in (`next`): a path on this origin, or `/`.

/**
 * What may follow the leading `/`: RFC 3986 path, query and fragment characters (unreserved,
 * sub-delims, ":", "@", "/", "?", "#", "%"). No backslash (browsers read `/\host` as `//host`),
 * no whitespace or controls (stripped by browsers, so `/\t/host` is `//host`).
 */
const LOCAL = /^\/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@/?#%]*$/;
/**
 * A %-encoded slash, backslash or control: refused, so no layer that decodes once can turn it into
 * `//host` or a header break.
 */
const ENCODED_SEPARATOR = /%(2f|5c|[01][0-9a-f]|7f)/i;
const BASE = 'https://gateway.invalid';

/** `raw` if it is a local path (at most 2048 characters), otherwise `/`. */
export function localNext(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 2048 || !LOCAL.test(raw) || ENCODED_SEPARATOR.test(raw)) return '/';
  // `/@host` and friends are paths, but check the way a browser resolves it anyway.
  try {
    if (new URL(raw, BASE).origin !== BASE) return '/';
  } catch {
    return '/';
  }
  return raw;
}
