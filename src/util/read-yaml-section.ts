// Reads the one top-level mapping (e.g. `users:`, `devices:`) of a managed YAML file, or nothing when the file is absent.

import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { GatewayError, type ErrorCode } from '../errors.js';

/**
 * Returns the entries under `section` (name → raw value); a missing file, an empty file or an
 * empty section give none. Bad YAML or a section that is not a mapping throws `code`, naming the file.
 */
export function readYamlSection(file: string, section: string, code: ErrorCode): [string, unknown][] {
  if (!existsSync(file)) return [];
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'), { uniqueKeys: true });
  } catch (err) {
    throw new GatewayError(code, `${file}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (raw === null || raw === undefined) return [];
  const entries = typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>)[section] : raw;
  if (entries === undefined || entries === null) return [];
  if (typeof entries !== 'object' || Array.isArray(entries)) {
    throw new GatewayError(code, `${file}: expected "${section}:" with one mapping per name`);
  }
  return Object.entries(entries);
}
