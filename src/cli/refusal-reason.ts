// The reason an admin command's refusal is audited with: the error's code as a short word (ERR_USER_EXISTS →
// user-exists), never its message, which can quote what the admin typed. A usage error (ERR_USAGE, exit 2:
// a missing argument, an unknown option, a command this setup does not offer) attempted nothing and is not
// audited: undefined.

export function refusalReason(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (code === 'ERR_USAGE') return undefined;
  if (typeof code !== 'string' || !/^[A-Z0-9_]{1,64}$/.test(code)) return 'failed';
  return code.replace(/^ERR_/, '').toLowerCase().replace(/_/g, '-');
}
