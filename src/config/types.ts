// The shape of a validated gateway configuration (see schema.ts for the rules and defaults.ts for defaults).

import type { Action } from '../policy/actions.js';
import type { AuthOptions } from '../identity/oidc/config.js';

export interface ListenAddress { readonly host: string; readonly port: number }

export interface RoleRules {
  readonly actions: readonly Action[];
  /** AE titles this role may name as C-MOVE destination. */
  readonly moveDestinations: readonly string[];
  /** SOP Class UIDs this role may C-STORE / STOW; empty means any. */
  readonly storeSopClasses: readonly string[];
  /**
   * Calling AE titles a principal of this role may use on a DICOM association (A-ASSOCIATE-RJ 1/1/3
   * for any other); absent: any (a device is still bound to its own, and a user to theirs when set).
   */
  readonly aeTitles?: readonly string[];
}

export interface RedisOptions {
  readonly url?: string;
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly db: number;
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string; readonly servername?: string };
  readonly sentinels?: readonly { host: string; port: number }[];
  readonly sentinelName?: string;
  readonly cluster?: readonly { host: string; port: number }[];
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

export type RuleName = 'query-sweep' | 'bulk-retrieve' | 'off-hours' | 'new-source' | 'refusal-burst' | 'password-spray' | 'association-flood';

export interface RuleSettings {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly windowMinutes: number;
  /** bulk-retrieve only: bytes retrieved within the window. */
  readonly bytes?: number;
}

export interface WebhookOptions {
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs?: number;
  readonly queueSize?: number;
}

export interface SyslogDestination {
  readonly host: string;
  readonly port: number;
  /** CA bundle the receiver's certificate must chain to (PEM file). */
  readonly ca: string;
  /** The gateway's client certificate and key for mutual TLS (PEM files). */
  readonly cert: string;
  readonly key: string;
  /** Name the receiver's certificate must carry (default: host). */
  readonly servername?: string;
  readonly queueSize?: number;
}

/** users.ldap: the hospital directory (LDAP / Active Directory) that checks passwords (src/identity/ldap/). */
export interface LdapOptions {
  /** ldaps://host[:port], or ldap://host[:port] (StartTLS is then always done before any bind). */
  readonly url: string;
  /** PEM file of the CA the directory's certificate must chain to (pinned; the system store is not used). */
  readonly ca: string;
  /** The service account's DN (search-then-bind), or a template with {username} (the user binds as it: a DN or a UPN). */
  readonly bindDn: string;
  /** The service account's password (use \${ENV}); not with a {username} template. Never logged. */
  readonly bindPassword?: string;
  readonly userSearchBase: string;
  /** A filter with {username}, e.g. (&(objectClass=user)(sAMAccountName={username})); the value is escaped (RFC 4515). */
  readonly userFilter: string;
  /** The attribute of the user entry that lists its groups (memberOf). */
  readonly groupAttribute: string;
  /** Group (DN or value of groupAttribute) → gateway role; the first entry the user is a member of wins; none → refused. */
  readonly roleMap: Readonly<Record<string, string>>;
  /** Connect and operation timeout (default 5000). */
  readonly timeoutMs?: number;
}

/** A modality that cannot do TLS, admitted on listen.dicomLegacy by source address and calling AE title (README "Legacy DICOM port"). */
export interface LegacyDevice {
  /** Source addresses or CIDR ranges (IPv4, IPv6) the device connects from. */
  readonly addresses: readonly string[];
  /** Calling AE titles the device may use (A-ASSOCIATE-RJ 1/1/3 for any other). */
  readonly aeTitles: readonly string[];
  /** Its role; absent: `legacy-modality` (echo and store unless roles define it). Only echo and store ever apply on the legacy port. */
  readonly role?: string;
}

/** One remote AE the relay sends to (relay.destinations.<AE>): reached over TLS only. */
export interface RelayDestination {
  readonly host: string;
  readonly port: number;
  readonly tls: {
    /** CA bundle the destination's certificate must chain to (PEM file). */
    readonly ca: string;
    /** The gateway's client certificate and key for mutual TLS (PEM files). */
    readonly cert: string;
    readonly key: string;
    /** Name the destination's certificate must carry (default: host). */
    readonly servername?: string;
  };
}

/** The outbound relay (src/relay/): PACS-initiated associations, C-MOVE sub-operations above all, carried over TLS. */
export interface RelayConfig {
  /** Cleartext listener on an internal interface; only the PACS connects to it. */
  readonly listen: ListenAddress;
  /** Source addresses or CIDR ranges allowed to connect (the PACS). */
  readonly allowFrom: readonly string[];
  /** Called AE title → where it really is. */
  readonly destinations: Readonly<Record<string, RelayDestination>>;
}

export interface GatewayConfig {
  readonly listen: {
    readonly https: ListenAddress; readonly dicom: ListenAddress; readonly metrics: ListenAddress & { readonly enabled: boolean };
    /** The fenced cleartext DIMSE port for legacyDevices; absent: off. */
    readonly dicomLegacy?: ListenAddress;
  };
  readonly legacyDevices: Readonly<Record<string, LegacyDevice>>;
  readonly alerts: {
    readonly rules: Readonly<Record<RuleName, RuleSettings>>;
    readonly schedule: { readonly timeZone: string; readonly roles: Readonly<Record<string, readonly string[]>> };
    readonly webhooks: readonly WebhookOptions[];
  };
  readonly audit: {
    /** AuditSourceID of the ATNA messages (default: the host name). */
    readonly sourceId?: string;
    readonly enterpriseSiteId?: string;
    readonly syslog: readonly SyslogDestination[];
  };
  readonly tls: {
    readonly cert: string;
    readonly key: string;
    readonly clientCa: string;
    readonly crl?: string;
    readonly autoGenerate: boolean;
    readonly expiryWarningDays: number;
    /**
     * A second server certificate with an ECDSA P-256 key, served beside the RSA one (tls.cert):
     * clients that can verify ECDSA get it. Absent: `server-ec.crt` / `server-ec.key` beside
     * tls.cert are served when both exist (what `certs issue-server` writes).
     */
    readonly ecdsa?: { readonly cert: string; readonly key: string };
    /** TLS session tickets: keys rotated every `rotateMinutes`, shared through the state store; 0 = node's own per-process keys. */
    readonly tickets: { readonly rotateMinutes: number };
  };
  readonly upstream: {
    readonly dicomweb: string;
    /** WADO-URI endpoint; defaults to /wado on the DICOMweb upstream's origin. */
    readonly wadoUri?: string;
    readonly dicom: { readonly host: string; readonly port: number; readonly aeTitle: string };
    readonly timeoutMs: number;
  };
  /** Who may sign in how: the local password + TOTP form, an OIDC identity provider (src/identity/oidc/). */
  readonly auth: AuthOptions;
  /** backend ldap: the records (TOTP enrolment) are kept in `file`, every password is the directory's. */
  readonly users: { readonly backend: 'file' | 'redis' | 'ldap'; readonly file: string; readonly ldap?: LdapOptions };
  readonly devices: { readonly file: string };
  readonly roles: Readonly<Record<string, RoleRules>>;
  readonly session: {
    readonly idleMinutes: number;
    readonly maxHours: number;
    readonly signingKey?: string;
    readonly dimseTokenMinutes: number;
    readonly cookieName: string;
    /** Sessions one user may hold at once; a login beyond them ends the oldest. */
    readonly maxPerUser: number;
  };
  readonly lockout: {
    readonly userMaxFailures: number;
    readonly addressMaxFailures: number;
    readonly windowMinutes: number;
    readonly lockMinutes: number;
  };
  readonly login: {
    /** Password checks (scrypt) running at once. */
    readonly maxConcurrentChecks: number;
    /** Password checks waiting for a free slot; beyond them ERR_BUSY. */
    readonly maxQueuedChecks: number;
    /** Password checks running or waiting per source address (IPv6: per /64). */
    readonly maxChecksPerAddress: number;
  };
  readonly state: { readonly store: 'memory' | 'redis'; readonly keyPrefix: string; readonly redis: RedisOptions };
  readonly dicom: {
    readonly artimSeconds: number;
    readonly idleSeconds: number;
    readonly maxAssociateRqBytes: number;
    readonly maxPduBytes: number;
    readonly maxCommandBytes: number;
    readonly maxAssociations: number;
    readonly maxAssociationsPerPrincipal: number;
    /** Absolute lifetime of an association, however busy; ended with A-ABORT at the first re-check past it. */
    readonly maxAssociationHours: number;
    /** Open connections on the DICOM port, associations or not yet (before the A-ASSOCIATE-RQ is read). */
    readonly maxConnections: number;
    /** Open connections on the DICOM port per source address (IPv6: per /64); 0 = no limit. */
    readonly maxConnectionsPerAddress: number;
  };
  /** The OHIF viewer served under /viewer/ (src/http/viewer/). */
  readonly viewer: {
    readonly enabled: boolean;
    /** Directory of a viewer build made for the /viewer/ public path (relative to the base directory). */
    readonly path: string;
  };
  readonly http: {
    readonly bodyLimitBytes: number;
    readonly trustProxy: boolean;
    /** Open connections on the HTTPS port. */
    readonly maxConnections: number;
    /** Open connections on the HTTPS port per source address (IPv6: per /64); 0 = no limit. Not applied with trustProxy. */
    readonly maxConnectionsPerAddress: number;
    /** Offer HTTP/2 (ALPN h2) on the HTTPS port; HTTP/1.1 clients are unaffected. */
    readonly http2: boolean;
  };
  readonly enrolment: {
    /** How long an invite link (`users invite`) stays usable. */
    readonly inviteHours: number;
    /** The gateway's public https origin the link starts with; default: https://HOST[:PORT] of listen.https. */
    readonly baseUrl?: string;
  };
  readonly log: {
    readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
    /** Longest a log or audit line waits in memory before it is written to stdout, in ms (0: the end of the event-loop turn). */
    readonly flushMs: number;
  };
  /** The outbound relay; absent = off (the default). */
  readonly relay?: RelayConfig;
  /** Directory that relative paths are resolved against (the config file's base directory). */
  readonly baseDir: string;
}
