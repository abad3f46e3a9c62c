// Reads, expands, validates and freezes the gateway configuration; every error names the field and the fix.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { GatewayError } from '../errors.js';
import { DEFAULTS } from './defaults.js';
import { configSchema } from './schema.js';
import type { GatewayConfig, RoleRules } from './types.js';
import type { Action } from '../policy/actions.js';
import { checkLdapFields } from './ldap-fields.js';
import { legacyProblems } from '../dicom/legacy-devices.js';
import { checkRelayConfig } from '../relay/relay-config.js';
import { authConfigProblems } from '../identity/oidc/config.js';

const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(configSchema);

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge where `over` wins; arrays and scalars replace, `roles` replaces whole when given. */
function merge(base: Plain, over: Plain, path = ''): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = base[k];
    out[k] = isPlain(b) && isPlain(v) && `${path}${k}` !== 'roles' ? merge(b, v, `${path}${k}.`) : v;
  }
  return out;
}

/** Replaces `${VAR}` and `${VAR:-fallback}` in string values from the environment. */
function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      problems.push(`${path || '(root)'}: environment variable ${name} is not set (set it, or give a fallback as \${${name}:-value})`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${path}[${i}]`, problems));
  if (isPlain(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env, path ? `${path}.${k}` : k, problems)]));
  }
  return value;
}

function fieldOf(e: ErrorObject): string {
  const p = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  return p || '(root)';
}

function valueAt(root: unknown, pointer: string): unknown {
  let v = root;
  for (const k of pointer.split('/').slice(1)) v = isPlain(v) || Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function describe(e: ErrorObject, root: unknown): string | undefined {
  const field = fieldOf(e);
  const params = e.params as Record<string, unknown>;
  if (/^roles\.[^.]+$/.test(field) && e.keyword === 'type') {
    return `${field}: must be a list of actions or { actions, moveDestinations, storeSopClasses, aeTitles }`;
  }
  const got = (): string => {
    const v = valueAt(root, e.instancePath);
    return v === undefined ? '' : ` (got ${JSON.stringify(v)?.slice(0, 80)})`;
  };
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const where = field === '(root)' ? key : `${field}.${key}`;
      return `${where}: unknown option (check the spelling; see config/gateway.example.yaml)`;
    }
    case 'enum':
      return `${field}: must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}${got()}`;
    case 'oneOf':
      return undefined; // the branch errors say more
    case 'propertyNames':
      return undefined;
    default:
      return `${field}: ${e.message ?? 'is invalid'}${got()}`;
  }
}

function normaliseRoles(roles: Record<string, unknown>): Record<string, RoleRules> {
  const out: Record<string, RoleRules> = {};
  for (const [name, rules] of Object.entries(roles)) {
    if (Array.isArray(rules)) {
      out[name] = { actions: rules as Action[], moveDestinations: [], storeSopClasses: [] };
    } else if (isPlain(rules)) {
      const r = rules as { actions: Action[]; moveDestinations?: string[]; storeSopClasses?: string[]; aeTitles?: string[] };
      out[name] = {
        actions: r.actions, moveDestinations: r.moveDestinations ?? [], storeSopClasses: r.storeSopClasses ?? [],
        // Compared with the calling AE title as the association parser decodes it (padding removed).
        ...(Array.isArray(r.aeTitles) ? { aeTitles: r.aeTitles.map((a) => String(a).trim()) } : {}),
      };
    }
    // Anything else (null, a number, a string) has been named by the schema; it makes no role.
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Validates a plain object (already parsed) into a frozen config. Throws ERR_CONFIG_INVALID listing every problem. */
export function buildConfig(raw: unknown, options: { env?: NodeJS.ProcessEnv; baseDir?: string; source?: string } = {}): GatewayConfig {
  const source = options.source ?? 'configuration';
  if (raw === null || raw === undefined) raw = {};
  if (!isPlain(raw)) throw new GatewayError('ERR_CONFIG_INVALID', `${source}: the top level must be a mapping of options (listen, tls, upstream, …)`);
  const problems: string[] = [];
  const expanded = expandEnv(raw, options.env ?? process.env, '', problems) as Plain;
  const merged = merge(structuredClone(DEFAULTS) as unknown as Plain, expanded);
  if (!validate(merged)) {
    for (const e of validate.errors ?? []) {
      const d = describe(e, merged);
      if (d !== undefined && !problems.includes(d) && !problems.some((p) => p.startsWith(`${d.split(':')[0]}: environment variable`))) problems.push(d);
    }
    if (problems.length === 0) problems.push('roles: each role is a list of actions or { actions, moveDestinations, storeSopClasses, aeTitles }; role names are lower-case');
  }
  const roles = normaliseRoles((merged['roles'] ?? {}) as Record<string, unknown>);
  checkCrossFields(merged, roles, problems);
  checkRelayConfig(merged['relay'], problems, merged['legacyDevices']);
  problems.push(...authConfigProblems(merged['auth'] as Parameters<typeof authConfigProblems>[0], roles));
  if (problems.length > 0) {
    throw new GatewayError('ERR_CONFIG_INVALID', `${source} is invalid:\n  - ${problems.join('\n  - ')}`, { detail: { problems } });
  }
  const baseDir = options.baseDir ?? process.cwd();
  return deepFreeze({ ...(merged as unknown as GatewayConfig), roles, baseDir });
}

function checkCrossFields(merged: Plain, roles: Record<string, RoleRules>, problems: string[]): void {
  const state = merged['state'] as { store?: string; redis?: { sentinels?: unknown; sentinelName?: unknown; cluster?: unknown } } | undefined;
  if (state?.redis?.sentinels !== undefined && state.redis.sentinelName === undefined) {
    problems.push('state.redis.sentinelName: required when state.redis.sentinels is set (the Sentinel master name)');
  }
  if (state?.redis?.sentinels !== undefined && state.redis.cluster !== undefined) {
    problems.push('state.redis: give either sentinels or cluster, not both');
  }
  const session = merged['session'] as { signingKey?: string } | undefined;
  if (state?.store === 'redis' && session?.signingKey === undefined) {
    problems.push('session.signingKey: required with state.store: redis, so every replica verifies the same sessions (e.g. signingKey: ${PACS_GATEWAY_SESSION_KEY})');
  }
  const users = merged['users'] as { backend?: string } | undefined;
  if (users?.backend === 'redis' && state?.store !== 'redis') {
    problems.push('users.backend: "redis" needs state.store: redis (the user directory lives in the same Redis)');
  }
  checkLdapFields(merged, roles, problems);
  const alerts = merged['alerts'] as { schedule?: { timeZone?: string; roles?: Record<string, unknown> } } | undefined;
  const tz = alerts?.schedule?.timeZone;
  if (typeof tz === 'string') {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
    } catch {
      problems.push(`alerts.schedule.timeZone: "${tz}" is not a time zone (use an IANA name such as Europe/Berlin, or UTC)`);
    }
  }
  for (const role of Object.keys(alerts?.schedule?.roles ?? {})) {
    if (roles[role] === undefined) problems.push(`alerts.schedule.roles.${role}: no such role in roles (${Object.keys(roles).join(', ')})`);
  }
  const listen = merged['listen'] as { dicomLegacy?: unknown } | undefined;
  problems.push(...legacyProblems(listen?.dicomLegacy, merged['legacyDevices'] as Parameters<typeof legacyProblems>[1], roles));
  for (const [name, r] of Object.entries(roles)) {
    // The schema has already named a role whose actions are not a list; only well-formed roles are cross-checked.
    if (Array.isArray(r.actions) && Array.isArray(r.moveDestinations) && r.moveDestinations.length > 0 && !r.actions.includes('move')) {
      problems.push(`roles.${name}.moveDestinations: set, but the role lacks the "move" action`);
    }
  }
}

/** Reads a YAML config file, applies defaults and environment variables, validates and freezes it. */
export function loadConfig(file: string, options: { env?: NodeJS.ProcessEnv; baseDir?: string } = {}): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayError('ERR_CONFIG_READ', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new GatewayError('ERR_CONFIG_INVALID', `${file} is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  return buildConfig(raw, { ...options, source: file });
}

/** Resolves a path from the config against the gateway's base directory. */
export function configPath(config: Pick<GatewayConfig, 'baseDir'>, p: string): string {
  return resolve(config.baseDir, p);
}
