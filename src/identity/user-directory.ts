// The user directory interface both backends (YAML file, Redis) implement.

import type { UserRecord } from './user-record.js';

export interface UserDirectory {
  readonly kind: 'file' | 'redis';
  /** Looks a user up; hot path, answered from memory where the backend can. */
  get(username: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  /** Adds a new user; ERR_USER_EXISTS when the name is taken. */
  add(record: UserRecord): Promise<void>;
  /** Replaces fields of an existing user; ERR_USER_UNKNOWN when absent. */
  update(username: string, patch: Partial<Omit<UserRecord, 'username' | 'createdAt'>>): Promise<UserRecord>;
  /** Re-reads the backing data now (SIGHUP). */
  reload(): Promise<void>;
  /** Called after any change is seen, with the usernames that changed. */
  onChange(listener: (usernames: readonly string[]) => void): void;
  close(): Promise<void>;
}
