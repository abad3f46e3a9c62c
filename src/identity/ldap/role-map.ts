// Group membership → gateway role: the first roleMap entry the user is a member of; none → no role (refused).

/** A DN or group name compared without case and without the spaces around `,` and `=`. */
function normalise(dn: string): string {
  return dn.trim().toLowerCase().replace(/\s*([,=])\s*/g, '$1');
}

/** The role of the first roleMap group found among `groups` (values of groupAttribute), in roleMap order. */
export function roleFor(groups: readonly string[], roleMap: Readonly<Record<string, string>>): string | undefined {
  const held = new Set(groups.map(normalise));
  for (const [group, role] of Object.entries(roleMap)) if (held.has(normalise(group))) return role;
  return undefined;
}
