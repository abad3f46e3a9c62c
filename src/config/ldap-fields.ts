// Cross-field checks of users.ldap the schema cannot express (src/identity/ldap/).

import type { RoleRules } from './types.js';

type Plain = Record<string, unknown>;

export function checkLdapFields(merged: Plain, roles: Record<string, RoleRules>, problems: string[]): void {
  const users = merged['users'] as { backend?: string; ldap?: { bindDn?: unknown; bindPassword?: unknown; roleMap?: Record<string, unknown> } } | undefined;
  const ldap = users?.ldap;
  if (users?.backend === 'ldap' && ldap === undefined) {
    problems.push('users.ldap: required with users.backend: ldap (url, ca, bindDn, bindPassword, userSearchBase, userFilter, groupAttribute, roleMap)');
  }
  if (ldap === undefined) return;
  const template = typeof ldap.bindDn === 'string' && ldap.bindDn.includes('{username}');
  if (!template && ldap.bindPassword === undefined) {
    problems.push('users.ldap.bindPassword: required for a service account bindDn (e.g. bindPassword: ${LDAP_BIND_PASSWORD}); or make bindDn a template with {username}');
  }
  if (template && ldap.bindPassword !== undefined) {
    problems.push('users.ldap.bindPassword: not used with a {username} bindDn template (the user binds with their own password); remove it');
  }
  for (const [group, role] of Object.entries(ldap.roleMap ?? {})) {
    if (typeof role === 'string' && roles[role] === undefined) problems.push(`users.ldap.roleMap: group "${group}" maps to role "${role}", which roles: does not define`);
  }
}
