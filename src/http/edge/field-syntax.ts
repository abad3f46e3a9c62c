// HTTP/1.1 field syntax shared by the request and response head parsers (RFC 9110 §5, §7.6.1).

/** tchar (RFC 9110 §5.6.2) by character code: 1 for a tchar, 2 for an upper-case letter, 0 otherwise. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 2;

/**
 * The field name `line[0, colon)` in lower case, or undefined when it is empty or not a token.
 * One pass instead of a regex test, a second slice and a lower-casing of an already lower-case name.
 */
export function fieldName(line: string, colon: number): string | undefined {
  if (colon <= 0) return undefined;
  let upper = false;
  for (let i = 0; i < colon; i++) {
    const c = line.charCodeAt(i);
    const t = c < 128 ? TCHAR[c] : 0;
    if (t === 0) return undefined;
    if (t === 2) upper = true;
  }
  const name = line.slice(0, colon);
  return upper ? name.toLowerCase() : name;
}

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
