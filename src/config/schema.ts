// The JSON schema every configuration file is validated against (additionalProperties: false everywhere).

import { ACTIONS } from '../policy/actions.js';
import { authSchema } from '../identity/oidc/config.js';

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const host = { type: 'string', minLength: 1 } as const;
const listenAddress = {
  type: 'object', additionalProperties: false, required: ['port'],
  properties: { host, port },
} as const;
const aeTitle = { type: 'string', pattern: '^[\\x20-\\x5b\\x5d-\\x7e]{1,16}$' } as const;
const uid = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 64 } as const;
const positive = { type: 'integer', minimum: 1 } as const;
const hostPort = { type: 'object', additionalProperties: false, required: ['host', 'port'], properties: { host, port } } as const;

/** One anomaly rule's settings (src/alerts/). */
const rule = (extra: Record<string, unknown> = {}) => ({
  type: 'object', additionalProperties: false,
  properties: { enabled: { type: 'boolean' }, threshold: { type: 'integer', minimum: 0 }, windowMinutes: positive, ...extra },
}) as const;
/** A weekly time range in the schedule's time zone: "mon-fri 07:00-19:00", "sat 08:00-12:00", "sun 22:00-06:00" (past midnight). */
const DAY = '(mon|tue|wed|thu|fri|sat|sun)';
const TIME = '([01][0-9]|2[0-3]):[0-5][0-9]';
const scheduleRange = { type: 'string', pattern: `^${DAY}(-${DAY})? ${TIME}-(${TIME}|24:00)$` } as const;
const pemFile = { type: 'string', minLength: 1 } as const;

const roleRules = {
  oneOf: [
    { type: 'array', items: { enum: ACTIONS }, uniqueItems: true },
    {
      type: 'object', additionalProperties: false, required: ['actions'],
      properties: {
        actions: { type: 'array', items: { enum: ACTIONS }, uniqueItems: true },
        moveDestinations: { type: 'array', items: aeTitle },
        storeSopClasses: { type: 'array', items: uid },
        aeTitles: { type: 'array', items: aeTitle, uniqueItems: true },
      },
    },
  ],
} as const;

/** Schema of the YAML configuration file; defaults are applied by ajv `useDefaults` from defaults.ts beforehand. */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    listen: {
      type: 'object', additionalProperties: false,
      properties: {
        https: listenAddress, dicom: listenAddress, dicomLegacy: listenAddress,
        metrics: {
          type: 'object', additionalProperties: false, required: ['port'],
          properties: { host, port, enabled: { type: 'boolean' } },
        },
      },
    },
    alerts: {
      type: 'object', additionalProperties: false,
      properties: {
        rules: {
          type: 'object', additionalProperties: false,
          properties: {
            'query-sweep': rule(),
            'bulk-retrieve': rule({ bytes: { type: 'integer', minimum: 0 } }),
            'off-hours': rule(),
            'new-source': rule(),
            'refusal-burst': rule(),
            'password-spray': rule(),
            'association-flood': rule(),
          },
        },
        schedule: {
          type: 'object', additionalProperties: false,
          properties: {
            timeZone: { type: 'string', minLength: 1 },
            roles: { type: 'object', additionalProperties: { type: 'array', items: scheduleRange } },
          },
        },
        webhooks: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['url', 'secret'],
            properties: {
              url: { type: 'string', pattern: '^https?://[^\\s]+$' },
              secret: { type: 'string', minLength: 16 },
              timeoutMs: positive,
              queueSize: positive,
            },
          },
        },
      },
    },
    audit: {
      type: 'object', additionalProperties: false,
      properties: {
        sourceId: { type: 'string', minLength: 1, maxLength: 128 },
        enterpriseSiteId: { type: 'string', minLength: 1, maxLength: 128 },
        syslog: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['host', 'port', 'ca', 'cert', 'key'],
            properties: { host, port, ca: pemFile, cert: pemFile, key: pemFile, servername: { type: 'string', minLength: 1 }, queueSize: positive },
          },
        },
      },
    },
    tls: {
      type: 'object', additionalProperties: false,
      properties: {
        cert: { type: 'string', minLength: 1 },
        key: { type: 'string', minLength: 1 },
        clientCa: { type: 'string', minLength: 1 },
        crl: { type: 'string', minLength: 1 },
        autoGenerate: { type: 'boolean' },
        expiryWarningDays: { type: 'integer', minimum: 0 },
        ecdsa: {
          type: 'object', additionalProperties: false, required: ['cert', 'key'],
          properties: { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } },
        },
        tickets: {
          type: 'object', additionalProperties: false,
          properties: { rotateMinutes: { type: 'integer', minimum: 0, maximum: 1440 } },
        },
      },
    },
    upstream: {
      type: 'object', additionalProperties: false,
      properties: {
        dicomweb: { type: 'string', pattern: '^https?://[^\\s]+$' },
        wadoUri: { type: 'string', pattern: '^https?://[^\\s]+$' },
        dicom: {
          type: 'object', additionalProperties: false,
          properties: { host, port, aeTitle },
        },
        timeoutMs: positive,
      },
    },
    auth: authSchema,
    users: {
      type: 'object', additionalProperties: false,
      properties: {
        backend: { enum: ['file', 'redis', 'ldap'] }, file: { type: 'string', minLength: 1 },
        // Passwords from the hospital directory (src/identity/ldap/); TOTP stays the gateway's.
        ldap: {
          type: 'object', additionalProperties: false, required: ['url', 'ca', 'bindDn', 'userSearchBase', 'userFilter', 'groupAttribute', 'roleMap'],
          properties: {
            url: { type: 'string', pattern: '^ldaps?://[^\\s/]+/?$' },
            ca: pemFile,
            bindDn: { type: 'string', minLength: 1 },
            bindPassword: { type: 'string', minLength: 1 },
            userSearchBase: { type: 'string', minLength: 1 },
            userFilter: { type: 'string', pattern: '^\\(.*\\{username\\}.*\\)$' },
            groupAttribute: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9-]{0,63}$' },
            roleMap: { type: 'object', minProperties: 1, additionalProperties: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$' } },
            timeoutMs: positive,
          },
        },
      },
    },
    devices: {
      type: 'object', additionalProperties: false,
      properties: { file: { type: 'string', minLength: 1 } },
    },
    legacyDevices: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
      additionalProperties: {
        type: 'object', additionalProperties: false, required: ['addresses', 'aeTitles'],
        properties: {
          addresses: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, uniqueItems: true },
          aeTitles: { type: 'array', items: aeTitle, minItems: 1, uniqueItems: true },
          role: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$' },
        },
      },
    },
    roles: {
      type: 'object',
      propertyNames: { pattern: '^[a-z][a-z0-9_-]{0,31}$' },
      additionalProperties: roleRules,
    },
    session: {
      type: 'object', additionalProperties: false,
      properties: {
        idleMinutes: positive,
        maxHours: positive,
        signingKey: { type: 'string', minLength: 32 },
        dimseTokenMinutes: positive,
        cookieName: { type: 'string', pattern: '^__Host-[A-Za-z0-9_-]+$' },
        maxPerUser: { type: 'integer', minimum: 1, maximum: 100 },
      },
    },
    lockout: {
      type: 'object', additionalProperties: false,
      properties: {
        userMaxFailures: { type: 'integer', minimum: 1, maximum: 100 },
        addressMaxFailures: { type: 'integer', minimum: 1, maximum: 10000 },
        windowMinutes: positive,
        lockMinutes: positive,
      },
    },
    login: {
      type: 'object', additionalProperties: false,
      properties: {
        maxConcurrentChecks: { type: 'integer', minimum: 1, maximum: 64 },
        maxQueuedChecks: { type: 'integer', minimum: 0, maximum: 10000 },
        maxChecksPerAddress: { type: 'integer', minimum: 1, maximum: 10000 },
      },
    },
    state: {
      type: 'object', additionalProperties: false,
      properties: {
        store: { enum: ['memory', 'redis'] },
        keyPrefix: { type: 'string', pattern: '^[A-Za-z0-9:_-]{1,64}$' },
        redis: {
          type: 'object', additionalProperties: false,
          properties: {
            url: { type: 'string', pattern: '^rediss?://' },
            host, port,
            username: { type: 'string' },
            password: { type: 'string' },
            db: { type: 'integer', minimum: 0, maximum: 15 },
            tls: {
              type: 'object', additionalProperties: false,
              properties: { ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, servername: { type: 'string' } },
            },
            sentinels: { type: 'array', items: hostPort, minItems: 1 },
            sentinelName: { type: 'string', minLength: 1 },
            cluster: { type: 'array', items: hostPort, minItems: 1 },
            connectTimeoutMs: positive,
            commandTimeoutMs: positive,
          },
        },
      },
    },
    dicom: {
      type: 'object', additionalProperties: false,
      properties: {
        artimSeconds: positive,
        idleSeconds: positive,
        maxAssociateRqBytes: { type: 'integer', minimum: 1024, maximum: 1048576 },
        maxPduBytes: { type: 'integer', minimum: 4096, maximum: 134217728 },
        maxCommandBytes: { type: 'integer', minimum: 256, maximum: 1048576 },
        maxAssociations: positive,
        maxAssociationsPerPrincipal: positive,
        maxAssociationHours: positive,
        maxConnections: positive,
        maxConnectionsPerAddress: { type: 'integer', minimum: 0 },
      },
    },
    http: {
      type: 'object', additionalProperties: false,
      properties: {
        bodyLimitBytes: positive,
        trustProxy: { type: 'boolean' },
        maxConnections: positive,
        maxConnectionsPerAddress: { type: 'integer', minimum: 0 },
        http2: { type: 'boolean' },
      },
    },
    enrolment: {
      type: 'object', additionalProperties: false,
      properties: {
        inviteHours: { type: 'integer', minimum: 1, maximum: 720 },
        baseUrl: { type: 'string', pattern: '^https://[^/?#\\s]+/?$' },
      },
    },
    log: {
      type: 'object', additionalProperties: false,
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] }, flushMs: { type: 'integer', minimum: 0, maximum: 1000 } },
    },
    relay: {
      type: 'object', additionalProperties: false, required: ['listen', 'allowFrom', 'destinations'],
      properties: {
        listen: hostPort,
        allowFrom: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        destinations: {
          type: 'object', propertyNames: aeTitle, minProperties: 1,
          additionalProperties: {
            type: 'object', additionalProperties: false, required: ['host', 'port', 'tls'],
            properties: {
              host, port,
              tls: {
                type: 'object', additionalProperties: false, required: ['ca', 'cert', 'key'],
                properties: { ca: pemFile, cert: pemFile, key: pemFile, servername: { type: 'string', minLength: 1 } },
              },
            },
          },
        },
      },
    },
    viewer: {
      type: 'object', additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, path: { type: 'string', minLength: 1 } },
    },
  },
} as const;
