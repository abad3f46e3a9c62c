// HTTP/1.1 field syntax shared by the request and response head parsers (RFC 9110 §5, §7.6.1).

/** A field name or method-like token. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** The value of a `name: value` field line: only SP and HTAB are optional whitespace (String#trim would also drop \v, \f, NBSP…). */
export function fieldValue(line: string, colon: number): string {
  let start = colon + 1;
  let end = line.length;
  while (start < end && isOws(line.charCodeAt(start))) start++;
  while (end > start && isOws(line.charCodeAt(end - 1))) end--;
  return line.slice(start, end);
}

/** The lower-case options of a Connection field value, appended to `into`. */
export function addConnectionOptions(into: string[], value: string): void {
  for (const t of value.split(',')) {
    const o = t.trim().toLowerCase();
    if (o !== '') into.push(o);
  }
}
