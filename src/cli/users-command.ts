// `pacs-gateway users …`: add, invite, revoke-invite, list, disable, enable, reset-totp, set-password, set-ae.

import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import QRCode from 'qrcode';
import { GatewayError } from '../errors.js';
import type { GatewayConfig } from '../config/types.js';
import { configPath } from '../config/load.js';
import { FileUserDirectory } from '../identity/file-user-directory.js';
import { checkPasswordStrength, hashPassword } from '../identity/password.js';
import { inviteUser, reinviteUser, revokeInvite, type Invitation } from '../identity/enrolment.js';
import { generateTotpSecret, totpUri } from '../identity/totp.js';
import type { UserDirectory } from '../identity/user-directory.js';
import { AE_TITLE_PATTERN, checkUsername } from '../identity/user-record.js';
import { cliAudit, cliAuditConfig, cliAuditRecorded } from './cli-audit.js';
import { refusalReason } from './refusal-reason.js';
import { configFromArgs } from './config-arg.js';
import { endSessionsNow, endUserSessions } from './end-sessions.js';
import { promptHidden, readStdinLine } from './prompt.js';

export const USERS_USAGE = `pacs-gateway users <command> [options]

  add USERNAME --role ROLE [--ae AETITLE…] [--password-stdin] [--json]
                         create a user; prints the TOTP enrolment URI and QR code; --ae (repeatable)
                         limits the calling AE titles the user may use over DICOM
  add USERNAME --source ldap [--ae AETITLE…] [--json]
                         enrol a directory user (users.ldap): only the TOTP secret is kept here; the
                         password is the directory's, the role comes from their groups at each login
                         (the default for add with users.backend: ldap)
  invite USERNAME --role ROLE [--email ADDR] [--ae AETITLE…] [--json]
                         create a pending user and print a one-time enrolment link (expires after
                         enrolment.inviteHours); the user chooses a password and scans the QR code
                         in the browser; --json prints {"username","role","inviteUrl","expiresAt"}
  revoke-invite USERNAME the user's enrolment link stops working at once
  list [--json]          list users (never prints secrets)
  disable USERNAME       disable a user; their sessions, DIMSE tokens and associations end at once
  end-sessions USERNAME  end every session, DIMSE token and association of a user, local or from
                         the identity provider (auth.oidc), on every replica; they may sign in again
                         (needs state.store: redis)
  enable USERNAME        enable a disabled user
  reset-totp USERNAME [--invite] [--json]
                         give a user a new TOTP secret (the old app entry stops working);
                         their sessions, DIMSE tokens and associations end; with --invite no
                         secret is printed: the user gets an enrolment link instead (and chooses
                         a new password there)
  set-password USERNAME [--password-stdin]
                         give a user a new password (same rules as add);
                         their sessions, DIMSE tokens and associations end
  set-ae USERNAME [--ae AETITLE…]
                         the calling AE titles the user may use over DICOM (none given: any)

Options: --config FILE (default: $PACS_GATEWAY_CONFIG, config/gateway.yaml, config/gateway.example.yaml)`;

type Out = (s: string) => void;

/** Opens the user directory the configuration names (file, or Redis when users.backend is redis). */
export async function openUserDirectory(config: GatewayConfig): Promise<UserDirectory> {
  if (config.users.backend === 'redis') {
    const { openRedisUserDirectory } = await import('./redis-users.js');
    return openRedisUserDirectory(config);
  }
  return new FileUserDirectory(configPath(config, config.users.file));
}

/** `users add NAME --source ldap`: a record with the TOTP secret and no password; the role is the directory's. */
async function addDirectoryUser(config: GatewayConfig, dir: UserDirectory, name: string, values: { source?: string; role?: string; ae?: string[] }, json: boolean, out: Out): Promise<void> {
  if ((values.source ?? 'ldap') !== 'ldap') throw new GatewayError('ERR_USAGE', `--source must be ldap (got "${values.source}")`);
  if (config.users.ldap === undefined) throw new GatewayError('ERR_USAGE', 'users add --source ldap needs a users.ldap section in the configuration');
  if (values.role !== undefined) throw new GatewayError('ERR_USAGE', 'a directory user\'s role comes from their groups (users.ldap.roleMap); leave out --role');
  if ((await dir.get(name)) !== undefined) throw new GatewayError('ERR_USER_EXISTS', `user "${name}" already exists`);
  const now = new Date().toISOString();
  const totpSecret = generateTotpSecret();
  const aeTitles = aeTitlesArg(values.ae);
  await dir.add({
    username: name, role: '', passwordHash: '', totpSecret, disabled: false, source: 'ldap', createdAt: now, updatedAt: now,
    ...(aeTitles === undefined ? {} : { aeTitles }),
  });
  await enrolment(name, 'from the directory', totpSecret, json, out);
}

async function enrolment(username: string, role: string, secret: string, json: boolean, out: Out): Promise<void> {
  const uri = totpUri(secret, username);
  if (json) {
    out(JSON.stringify({ username, role, totpSecret: secret, otpauthUri: uri }));
    return;
  }
  const qr = await QRCode.toString(uri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
  out(`User ${username} (role ${role}).\nScan this with an authenticator app (or enter the secret by hand):\n\n${qr}\n  secret: ${secret}\n  uri:    ${uri}\n\nShow this only to ${username}; it is not shown again (reset-totp makes a new one).`);
}

export async function usersCommand(argv: string[], out: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      config: { type: 'string' }, role: { type: 'string' }, 'password-stdin': { type: 'boolean' },
      json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ae: { type: 'string', multiple: true }, source: { type: 'string' },
      email: { type: 'string' }, invite: { type: 'boolean' },
    },
  });
  const [sub, username] = positionals;
  if (values.help === true || sub === undefined) {
    out(USERS_USAGE);
    return sub === undefined && values.help !== true ? 2 : 0;
  }
  const { config } = configFromArgs(values);
  cliAuditConfig(config);
  const dir = await openUserDirectory(config).catch((e: unknown) => { auditRefusal(sub, values.invite === true, username, e); throw e; });
  try {
    const json = values.json === true;
    const needName = (): string => {
      if (username === undefined) throw new GatewayError('ERR_USAGE', `users ${sub} needs a USERNAME`);
      return username;
    };
    switch (sub) {
      case 'add': {
        const name = needName();
        checkUsername(name);
        refuseWithoutLocal(config, name, 'users add');
        if (values.source !== undefined || config.users.backend === 'ldap') {
          await addDirectoryUser(config, dir, name, values, json, out);
          cliAudit({ event: 'auth.enrol', decision: 'allow', reason: 'user-added', principal: name, userSource: 'ldap', aeTitles: aeTitlesArg(values.ae) ?? 'any', command: 'users add' });
          return 0;
        }
        const role = values.role;
        if (role === undefined) throw new GatewayError('ERR_USAGE', `users add needs --role (one of: ${Object.keys(config.roles).join(', ')})`);
        if (!Object.hasOwn(config.roles, role)) throw new GatewayError('ERR_ROLE_UNKNOWN', `role "${role}" is not in the configuration (roles: ${Object.keys(config.roles).join(', ')})`);
        if ((await dir.get(name)) !== undefined) throw new GatewayError('ERR_USER_EXISTS', `user "${name}" already exists`);
        const password = values['password-stdin'] === true ? await readStdinLine() : await promptTwice();
        checkPasswordStrength(password, name);
        const now = new Date().toISOString();
        const totpSecret = generateTotpSecret();
        const aeTitles = aeTitlesArg(values.ae);
        await dir.add({
          username: name, role, passwordHash: await hashPassword(password), totpSecret, disabled: false, createdAt: now, updatedAt: now,
          ...(aeTitles === undefined ? {} : { aeTitles }),
        });
        cliAudit({ event: 'auth.enrol', decision: 'allow', reason: 'user-added', principal: name, role, aeTitles: aeTitles ?? 'any', command: 'users add' });
        await enrolment(name, role, totpSecret, json, out);
        return 0;
      }
      case 'invite': {
        const name = needName();
        checkUsername(name);
        const role = values.role;
        if (role === undefined) throw new GatewayError('ERR_USAGE', `users invite needs --role (one of: ${Object.keys(config.roles).join(', ')})`);
        if (!Object.hasOwn(config.roles, role)) throw new GatewayError('ERR_ROLE_UNKNOWN', `role "${role}" is not in the configuration (roles: ${Object.keys(config.roles).join(', ')})`);
        const email = values.email;
        if (email !== undefined && !/^[^\s@]{1,64}@[^\s@]{1,255}$/.test(email)) throw new GatewayError('ERR_USAGE', `--email "${email.slice(0, 80)}" is not an e-mail address`);
        const aeTitles = aeTitlesArg(values.ae);
        refuseWithoutLocal(config, name, 'users invite');
        const invited = await inviteUser(dir, { username: name, role, hours: config.enrolment.inviteHours, baseUrl: enrolmentBaseUrl(config), ...(email === undefined ? {} : { email }) });
        if (aeTitles !== undefined) await dir.update(name, { aeTitles });
        auditInvite(invited, 'users invite');
        printInvite(invited, json, out, email);
        return 0;
      }
      case 'revoke-invite': {
        const name = needName();
        const revoked = await revokeInvite(dir, name);
        cliAudit({ event: 'auth.enrol', decision: 'allow', reason: revoked ? 'invite-revoked' : 'no-open-invite', principal: name, command: 'users revoke-invite' });
        out(revoked ? `the enrolment link of ${name} no longer works` : `${name} has no open enrolment link`);
        return 0;
      }
      case 'list': {
        const users = await dir.list();
        if (json) out(JSON.stringify(users.map((u) => ({ username: u.username, role: u.role, source: u.source ?? (config.users.backend === 'ldap' ? 'ldap' : 'local'), disabled: u.disabled, pending: u.pending === true, aeTitles: u.aeTitles, createdAt: u.createdAt, updatedAt: u.updatedAt }))));
        else if (users.length === 0) out('no users yet: add one with "pacs-gateway users add USERNAME --role ROLE"');
        else out(users.map((u) => `${u.username.padEnd(24)} ${(u.role || '(directory)').padEnd(16)} ${u.disabled ? 'disabled' : u.pending === true ? 'pending' : 'active'}${u.source === 'ldap' ? ' ldap' : ''}`).join('\n'));
        return 0;
      }
      case 'disable':
      case 'enable': {
        const name = needName();
        await dir.update(name, { disabled: sub === 'disable' });
        cliAudit({ event: 'auth.account', decision: 'allow', reason: sub === 'disable' ? 'user-disabled' : 'user-enabled', principal: name, command: `users ${sub}` });
        out(sub === 'disable' ? `user ${name} disabled; ${await endUserSessions(config, name, 'user-disabled')}` : `user ${name} enabled`);
        return 0;
      }
      case 'end-sessions': {
        const name = needName();
        checkUsername(name);
        const ended = await endSessionsNow(config, name);
        cliAudit({ event: 'auth.session', decision: 'deny', reason: 'revoked:ended-by-admin', principal: name, sessionEnded: ended, command: 'users end-sessions' }, 'done');
        out(ended ? `the sessions of ${name} ended on every replica; their DIMSE tokens stop working and their associations end at the next re-check` : `${name} had no session`);
        return 0;
      }
      case 'reset-totp': {
        const name = needName();
        refuseWithoutLocal(config, name, values.invite === true ? 'users reset-totp --invite' : 'users reset-totp');
        if (values.invite === true) {
          const invited = await reinviteUser(dir, { username: name, hours: config.enrolment.inviteHours, baseUrl: enrolmentBaseUrl(config) });
          auditInvite(invited, 'users reset-totp --invite');
          const ended = await endUserSessions(config, name, 'totp-reset');
          printInvite(invited, json, out, undefined);
          if (!json) out(`The old password and code no longer work; ${ended}.`);
          return 0;
        }
        const totpSecret = generateTotpSecret();
        const u = await dir.update(name, { totpSecret });
        cliAudit({ event: 'auth.account', decision: 'allow', reason: 'totp-reset', principal: name, command: 'users reset-totp' });
        const ended = await endUserSessions(config, name, 'totp-reset');
        await enrolment(name, u.role, totpSecret, json, out);
        if (!json) out(`The old code no longer works; ${ended}.`);
        return 0;
      }
      case 'set-password': {
        const name = needName();
        refuseWithoutLocal(config, name, 'users set-password');
        const existing = await dir.get(name);
        if (existing === undefined) throw new GatewayError('ERR_USER_UNKNOWN', `no user "${name}"`);
        if (existing.source === 'ldap' || config.users.backend === 'ldap') throw new GatewayError('ERR_USAGE', `${name} is a directory user: their password is changed in the directory, not here`);
        const password = values['password-stdin'] === true ? await readStdinLine() : await promptTwice();
        checkPasswordStrength(password, name);
        await dir.update(name, { passwordHash: await hashPassword(password) });
        cliAudit({ event: 'auth.account', decision: 'allow', reason: 'password-changed', principal: name, command: 'users set-password' });
        out(`password of ${name} changed; ${await endUserSessions(config, name, 'password-changed')}`);
        return 0;
      }
      case 'set-ae': {
        const name = needName();
        const aeTitles = aeTitlesArg(values.ae);
        await dir.update(name, { aeTitles });
        cliAudit({ event: 'auth.account', decision: 'allow', reason: 'ae-titles-changed', principal: name, aeTitles: aeTitles ?? 'any', command: 'users set-ae' });
        out(aeTitles === undefined ? `user ${name} may use any calling AE title` : `user ${name} may use the calling AE titles ${aeTitles.join(', ')}`);
        return 0;
      }
      default:
        throw new GatewayError('ERR_USAGE', `unknown users command "${sub}"\n\n${USERS_USAGE}`);
    }
  } catch (e) {
    auditRefusal(sub, values.invite === true, username, e);
    throw e;
  } finally {
    await dir.close();
  }
}

/** The event of each command that changes users, invites or sessions (read-only ones have none). */
const CHANGE_EVENT: Readonly<Record<string, 'auth.enrol' | 'auth.account' | 'auth.session'>> = {
  add: 'auth.enrol', invite: 'auth.enrol', 'revoke-invite': 'auth.enrol',
  disable: 'auth.account', enable: 'auth.account', 'reset-totp': 'auth.account', 'set-password': 'auth.account', 'set-ae': 'auth.account',
  'end-sessions': 'auth.session',
};

/** A changing command that failed before it recorded its change: a deny event with the reason (the error's code, never its input). */
function auditRefusal(sub: string, invite: boolean, username: string | undefined, e: unknown): void {
  const reinvite = sub === 'reset-totp' && invite;
  const event = reinvite ? 'auth.enrol' : Object.hasOwn(CHANGE_EVENT, sub) ? CHANGE_EVENT[sub] : undefined;
  const reason = refusalReason(e);
  if (event === undefined || reason === undefined || cliAuditRecorded()) return;
  cliAudit({ event, decision: 'deny', reason, ...(username === undefined ? {} : { principal: username }), command: reinvite ? 'users reset-totp --invite' : `users ${sub}` });
}

/** What each command would make that only a password sign-in uses. */
const LOCAL_ONLY = {
  'users invite': ['auth.enrol', 'an enrolment link would set up a password sign-in no channel accepts'],
  'users reset-totp --invite': ['auth.enrol', 'an enrolment link would set up a password sign-in no channel accepts'],
  // A local record of a name also keeps the auth.oidc user of that name out (oidc-username-is-local-user).
  'users add': ['auth.enrol', 'a gateway user would have a password sign-in no channel accepts, and would keep the auth.oidc user of the same name from signing in'],
  'users set-password': ['auth.account', 'no channel accepts a gateway password'],
  'users reset-totp': ['auth.account', 'no channel accepts the authenticator code of a password sign-in'],
} as const;

/** auth.local: false: nothing only a password sign-in would use is made (audited, exit 1). */
function refuseWithoutLocal(config: GatewayConfig, username: string, command: keyof typeof LOCAL_ONLY): void {
  if (config.auth.local !== false) return;
  const [event, why] = LOCAL_ONLY[command];
  cliAudit({ event, decision: 'deny', reason: 'local-login-disabled', principal: username, command });
  throw new GatewayError('ERR_LOCAL_LOGIN_DISABLED', `auth.local is false: users sign in through auth.oidc only, and ${why}`);
}

/** The `auth.enrol` event of a new link: who it is for, until when; never the token or the link. */
function auditInvite(i: Invitation, command: string): void {
  cliAudit({ event: 'auth.enrol', decision: 'allow', reason: 'invite-created', principal: i.username, role: i.role, expiresAt: i.expiresAt, command });
}

/** The origin enrolment links start with: enrolment.baseUrl, else the HTTPS listener's address. */
export function enrolmentBaseUrl(config: GatewayConfig): string {
  if (config.enrolment.baseUrl !== undefined) return config.enrolment.baseUrl.replace(/\/+$/, '');
  const { host, port } = config.listen.https;
  const name = host === '0.0.0.0' || host === '::' || host === '' ? hostname() : host.includes(':') ? `[${host}]` : host;
  return `https://${name}${port === 443 ? '' : `:${port}`}`;
}

function printInvite(i: Invitation, json: boolean, out: Out, email: string | undefined): void {
  if (json) { out(JSON.stringify({ username: i.username, role: i.role, inviteUrl: i.inviteUrl, expiresAt: i.expiresAt })); return; }
  out(`User ${i.username} (role ${i.role}) is pending until they enrol.\nSend them this link${email === undefined ? '' : ` (${email})`}; it works once, until ${i.expiresAt}:\n\n  ${i.inviteUrl}\n\nOn it they choose a password and scan a QR code with an authenticator app. "users revoke-invite ${i.username}" cancels it.`);
}

/** The --ae values, checked as AE titles; undefined when none was given (any title). */
function aeTitlesArg(values: string[] | undefined): string[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  for (const ae of values) {
    if (!AE_TITLE_PATTERN.test(ae) || ae.trim() !== ae) throw new GatewayError('ERR_USAGE', `--ae "${ae.slice(0, 20)}" is not an AE title (1–16 characters, no backslash, no leading or trailing space)`);
  }
  return [...new Set(values)];
}

async function promptTwice(): Promise<string> {
  const a = await promptHidden('Password: ');
  const b = await promptHidden('Repeat password: ');
  if (a !== b) throw new GatewayError('ERR_USAGE', 'the two passwords differ');
  return a;
}
