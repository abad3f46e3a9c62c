// The reason an admin command's refusal is audited with: the error's code as a short word (ERR_USER_EXISTS →
// user-exists), never its message, which can quote what the admin typed (a password on stdin is never in one,
// but the rule stays simple to check).

export function refusalReason(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !/^[A-Z0-9_]{1,64}$/.test(code)) return 'failed';
  return code.replace(/^ERR_/, '').toLowerCase().replace(/_/g, '-');
}
