// HTTP/1.1 field syntax shared by the request and response head parsers (RFC 9110 §5, §7.6.1).

/** A field name or method-like token. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const OWS_EDGES = /^[ \t]+|[ \t]+$/g;

/** The value of a `name: value` field line: only SP and HTAB are optional whitespace (String#trim would also drop \v, \f, NBSP…). */
export function fieldValue(line: string, colon: number): string {
  return line.slice(colon + 1).replace(OWS_EDGES, '');
}

/** The lower-case options of a Connection field value, appended to `into`. */
export function addConnectionOptions(into: string[], value: string): void {
  for (const t of value.split(',')) {
    const o = t.trim().toLowerCase();
    if (o !== '') into.push(o);
  }
}
