// User directory kept in a YAML file (mode 0600), reloaded when the file changes.

import { stringify } from 'yaml';
import { GatewayError } from '../errors.js';
import { readYamlSection } from '../util/read-yaml-section.js';
import { atomicWrite } from '../util/atomic-write.js';
import { watchFile } from '../util/watch-file.js';
import type { UserDirectory } from './user-directory.js';
import { parseUserRecord, type UserRecord } from './user-record.js';

const HEADER = '# pacs-gateway users: managed by "pacs-gateway users …"; holds password hashes and TOTP secrets (keep it 0600).\n';

/** Reads and validates a users file; throws ERR_USERS_FILE naming the bad entry. A missing file is an empty directory. */
export function readUsersFile(file: string): Map<string, UserRecord> {
  const users = new Map<string, UserRecord>();
  for (const [name, entry] of readYamlSection(file, 'users', 'ERR_USERS_FILE')) {
    const parsed = parseUserRecord(name, entry);
    if (typeof parsed === 'string') throw new GatewayError('ERR_USERS_FILE', `${file}: ${parsed}`);
    users.set(name, parsed);
  }
  return users;
}

export class FileUserDirectory implements UserDirectory {
  readonly kind = 'file' as const;
  readonly #file: string;
  #users: Map<string, UserRecord>;
  readonly #listeners: ((names: readonly string[]) => void)[] = [];
  readonly #onReloadError: (err: GatewayError) => void;
  #stopWatch: (() => void) | undefined;

  /** Loads the file now (throws on an invalid file); with `watch`, picks up later changes. */
  constructor(file: string, options: { watch?: boolean; onReloadError?: (err: GatewayError) => void } = {}) {
    this.#file = file;
    this.#users = readUsersFile(file);
    this.#onReloadError = options.onReloadError ?? (() => undefined);
    if (options.watch === true) this.#stopWatch = watchFile(file, () => void this.reload());
  }

  async get(username: string): Promise<UserRecord | undefined> {
    return this.#users.get(username);
  }

  async list(): Promise<UserRecord[]> {
    return [...this.#users.values()].sort((a, b) => a.username.localeCompare(b.username));
  }

  async add(record: UserRecord): Promise<void> {
    const fresh = readUsersFile(this.#file);
    if (fresh.has(record.username)) throw new GatewayError('ERR_USER_EXISTS', `user "${record.username}" already exists`);
    fresh.set(record.username, record);
    this.#write(fresh, [record.username]);
  }

  async update(username: string, patch: Partial<Omit<UserRecord, 'username' | 'createdAt'>>): Promise<UserRecord> {
    const fresh = readUsersFile(this.#file);
    const old = fresh.get(username);
    if (old === undefined) throw new GatewayError('ERR_USER_UNKNOWN', `no user "${username}"`);
    const next = { ...old, ...patch, updatedAt: new Date().toISOString() };
    fresh.set(username, next);
    this.#write(fresh, [username]);
    return next;
  }

  #write(users: Map<string, UserRecord>, changed: string[]): void {
    const doc: Record<string, unknown> = {};
    for (const [name, { username: _u, ...rest }] of users) doc[name] = rest;
    atomicWrite(this.#file, HEADER + stringify({ users: doc }), 0o600);
    this.#apply(users, changed);
  }

  #apply(next: Map<string, UserRecord>, changed?: string[]): void {
    const old = this.#users;
    this.#users = next;
    const names = changed ?? [...new Set([...old.keys(), ...next.keys()])].filter(
      (n) => JSON.stringify(old.get(n)) !== JSON.stringify(next.get(n)),
    );
    if (names.length > 0) for (const l of this.#listeners) l(names);
  }

  async reload(): Promise<void> {
    try {
      this.#apply(readUsersFile(this.#file));
    } catch (err) {
      this.#onReloadError(err as GatewayError); // the old directory stays in force
    }
  }

  onChange(listener: (usernames: readonly string[]) => void): void {
    this.#listeners.push(listener);
  }

  async close(): Promise<void> {
    this.#stopWatch?.();
  }
}
