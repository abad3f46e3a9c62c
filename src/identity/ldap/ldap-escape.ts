// Putting a username into an LDAP filter (RFC 4515) or a DN (RFC 4514) as a value, never as syntax.

/** Escapes a filter assertion value: `*`, `(`, `)`, `\`, NUL and every non-ASCII byte become \XX. */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte === 0x2a || byte === 0x28 || byte === 0x29 || byte === 0x5c || byte === 0x00 || byte > 0x7e || byte < 0x20
      ? `\\${byte.toString(16).padStart(2, '0')}`
      : String.fromCharCode(byte);
  }
  return out;
}

/** Escapes an attribute value in a DN: `,+"\<>;=`, NUL, a leading `#` or space and a trailing space. */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[,+"\\<>;=\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out.charCodeAt(0).toString(16)}${out.slice(1)}`;
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\20`;
  return out;
}

/** The filter with every {username} replaced by the escaped username. */
export function userFilterFor(template: string, username: string): string {
  return template.replaceAll('{username}', escapeFilterValue(username));
}

/** The bind name of a {username} template: a DN (uid={username},ou=People,…) or a UPN ({username}@hospital.example). */
export function bindNameFor(template: string, username: string): string {
  return template.replaceAll('{username}', escapeDnValue(username));
}
