// Checks a password against the hospital directory (LDAP / Active Directory) with ldapts: TLS with
// the CA pinned (ldaps://, or StartTLS before anything else on ldap://), search-then-bind with a
// service account or a bind-name template, then the account's state and its groups → a role.

import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client, InvalidCredentialsError, type Entry } from 'ldapts';
import { GatewayError } from '../../errors.js';
import type { LdapOptions } from '../../config/types.js';
import { ACCOUNT_STATE_ATTRIBUTES, accountProblem, type AccountProblem } from './account-state.js';
import { bindNameFor, userFilterFor } from './ldap-escape.js';
import { roleFor } from './role-map.js';

const DEFAULT_TIMEOUT_MS = 5000;

/** Why the directory refused a login (audit trail only; the user always sees ERR_LOGIN_FAILED). */
export type DirectoryRefusal = 'wrong-password' | 'directory-unknown-user' | 'directory-ambiguous-user' | 'no-mapped-group' | AccountProblem;

export type DirectoryAnswer = { readonly ok: true; readonly role: string; readonly dn: string } | { readonly ok: false; readonly reason: DirectoryRefusal };

/** What the login service needs from a directory: a password check, and a probe for /readyz. */
export interface PasswordDirectory {
  /** Checks `password` for `username`; throws ERR_DIRECTORY_UNAVAILABLE when the directory cannot answer. */
  authenticate(username: string, password: string): Promise<DirectoryAnswer>;
  /** Resolves when the directory answers (TLS, and the service account's bind when there is one). */
  ping(): Promise<void>;
}

export interface LdapDirectoryOptions extends LdapOptions {
  /** The CA certificate(s) in PEM, read from `ca`. */
  readonly caPem: string;
  readonly clock?: () => number;
}

/** Every failure to reach or use the directory, as the one error users and /readyz see (never with a password). */
function unavailable(url: string, err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as NodeJS.ErrnoException;
  const text = (e.message ?? String(err)).split('\n')[0]?.slice(0, 200) ?? '';
  const why = typeof e.code === 'string' ? e.code : text;
  return new GatewayError('ERR_DIRECTORY_UNAVAILABLE', `The directory ${url} cannot be used: ${why}`, { cause: { code: e.code, name: e.name } });
}

function values(entry: Entry, name: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

export class LdapDirectory implements PasswordDirectory {
  readonly #o: LdapDirectoryOptions;
  readonly #url: URL;
  readonly #template: boolean;
  readonly #timeoutMs: number;
  readonly #clock: () => number;

  constructor(options: LdapDirectoryOptions) {
    this.#o = options;
    this.#url = new URL(options.url);
    this.#template = options.bindDn.includes('{username}');
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#clock = options.clock ?? Date.now;
    if (!this.#template && options.bindPassword === undefined) throw new TypeError('LdapDirectory: a service account bindDn needs bindPassword');
  }

  /** A display form of the URL, for messages and /readyz. */
  get url(): string {
    return `${this.#url.protocol}//${this.#url.host}`;
  }

  #tls(): ConnectionOptions {
    const host = this.#url.hostname.replace(/^\[|\]$/g, '');
    return { ca: this.#o.caPem, minVersion: 'TLSv1.2', rejectUnauthorized: true, host, ...(isIP(host) === 0 ? { servername: host } : {}) };
  }

  /** A client on a TLS connection: ldaps://, or ldap:// upgraded by StartTLS before anything else is sent. */
  async #connect(): Promise<Client> {
    const secure = this.#url.protocol === 'ldaps:';
    const client = new Client({
      url: this.url, timeout: this.#timeoutMs, connectTimeout: this.#timeoutMs, strictDN: false,
      ...(secure ? { tlsOptions: this.#tls() } : {}),
    });
    try {
      if (!secure) await client.startTLS(this.#tls());
      return client;
    } catch (err) {
      await client.unbind().catch(() => undefined);
      throw unavailable(this.url, err);
    }
  }

  async ping(): Promise<void> {
    const client = await this.#connect();
    try {
      if (!this.#template) await this.#serviceBind(client);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  async #serviceBind(client: Client): Promise<void> {
    try {
      await client.bind(this.#o.bindDn, this.#o.bindPassword);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) {
        throw new GatewayError('ERR_DIRECTORY_UNAVAILABLE', `The directory ${this.url} refused the service account ${this.#o.bindDn} (users.ldap.bindDn / bindPassword)`);
      }
      throw unavailable(this.url, err);
    }
  }

  /** The user's entry under userSearchBase: undefined when there is none, 'ambiguous' when more than one. */
  async #find(client: Client, username: string): Promise<Entry | 'ambiguous' | undefined> {
    const { searchEntries } = await client.search(this.#o.userSearchBase, {
      scope: 'sub', filter: userFilterFor(this.#o.userFilter, username), sizeLimit: 2,
      attributes: [this.#o.groupAttribute, ...ACCOUNT_STATE_ATTRIBUTES],
    });
    if (searchEntries.length > 1) return 'ambiguous';
    return searchEntries[0];
  }

  async authenticate(username: string, password: string): Promise<DirectoryAnswer> {
    // An empty password makes a simple bind "unauthenticated" (RFC 4513 §5.1.2), which some servers accept: never send one.
    if (password === '') return { ok: false, reason: 'wrong-password' };
    const client = await this.#connect();
    try {
      let entry: Entry | 'ambiguous' | undefined;
      if (this.#template) {
        // The user binds as the template names them, then reads their own entry.
        if (!(await this.#bindAs(client, bindNameFor(this.#o.bindDn, username), password))) return { ok: false, reason: 'wrong-password' };
        entry = await this.#find(client, username);
        if (entry === undefined) return { ok: false, reason: 'directory-unknown-user' };
        if (entry === 'ambiguous') return { ok: false, reason: 'directory-ambiguous-user' };
        const problem = accountProblem(entry, this.#clock());
        if (problem !== undefined) return { ok: false, reason: problem };
      } else {
        // Search with the service account; the account's state is checked before its password is tried.
        await this.#serviceBind(client);
        entry = await this.#find(client, username);
        if (entry === undefined) return { ok: false, reason: 'directory-unknown-user' };
        if (entry === 'ambiguous') return { ok: false, reason: 'directory-ambiguous-user' };
        const problem = accountProblem(entry, this.#clock());
        if (problem !== undefined) return { ok: false, reason: problem };
        if (!(await this.#bindAs(client, entry.dn, password))) return { ok: false, reason: 'wrong-password' };
      }
      const role = roleFor(values(entry, this.#o.groupAttribute), this.#o.roleMap);
      if (role === undefined) return { ok: false, reason: 'no-mapped-group' };
      return { ok: true, role, dn: entry.dn };
    } catch (err) {
      throw unavailable(this.url, err);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  /** A simple bind: true when the directory accepts the password, false on invalidCredentials (49); other errors throw. */
  async #bindAs(client: Client, name: string, password: string): Promise<boolean> {
    try {
      await client.bind(name, password);
      return true;
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return false;
      throw err;
    }
  }
}
