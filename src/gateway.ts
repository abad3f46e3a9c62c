// The library entry point: createGateway(config) wires identity, policy, state, audit and both listeners.

import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Audit } from './audit/audit.js';
import { createLogger } from './audit/logger.js';
import { ConfigReloader } from './config/config-reloader.js';
import { configPath } from './config/load.js';
import type { GatewayConfig, RoleRules } from './config/types.js';
import { createDimseServer, type DimseServer } from './dicom/server.js';
import { createLegacyServer, type LegacyServer } from './dicom/legacy-server.js';
import { AssociationLimits } from './dicom/limits.js';
import { buildHttpServer, type HttpServer } from './http/server.js';
import { probeTcp } from './http/health-routes.js';
import { DeviceRegistry } from './identity/device-registry.js';
import { FileUserDirectory } from './identity/file-user-directory.js';
import { GatewayIdentityResolver } from './identity/identity-resolver.js';
import { openDirectoryLogin } from './identity/ldap/open-directory.js';
import { LoginService } from './identity/login.js';
import { PasswordChecker } from './identity/password.js';
import { SessionService } from './identity/sessions.js';
import { createOidcLogin } from './identity/oidc/create.js';
import type { UserDirectory } from './identity/user-directory.js';
import { RedisUserDirectory } from './identity/redis-user-directory.js';
import { createStore } from './state/create-store.js';
import type { StateStore } from './state/store.js';
import { ensureDevCertificates } from './tls/dev-certs.js';
import { expiringWithin, expiryItems, scheduleDaily, warnExpiring } from './tls/expiry.js';
import { loadTlsMaterial, secureContextOptions } from './tls/material.js';
import { TLS_SERVER_PROFILE } from './tls/profile.js';
import { tlsFilePaths } from './tls/tls-paths.js';
import { TlsReloader } from './tls/tls-watcher.js';
import { resumedCertificateCheck } from './tls/resumed-peer-check.js';
import { TicketKeyRotation, ticketWrapKey } from './tls/ticket-keys.js';
import { systemClock, type Clock } from './util/clock.js';
import { startMonitoring, type Monitoring } from './monitoring.js';
import { createRelayServer, type RelayServer } from './relay/relay-server.js';

export interface GatewayOptions {
  /** A pino logger; by default JSON on stdout at config.log.level. */
  readonly logger?: Logger;
  /** Injected clock (tests): drives TOTP windows, lockouts and session expiry. */
  readonly clock?: Clock;
  /** A state store to use instead of the one config.state describes. */
  readonly store?: StateStore;
  /** Watch users, devices, certificate files and the config file for changes (default true). */
  readonly watch?: boolean;
  /**
   * The file `config` was loaded from. When given it is watched (and re-read on reload()):
   * a valid new file swaps in roles, log.level and tls.expiryWarningDays; other fields need a
   * restart (logged); an invalid file is refused with an alert.
   */
  readonly configFile?: string;
  /**
   * How often an open association re-checks its credential (user, session, DIMSE token, device)
   * and its absolute lifetime; default 10 s. Tests shorten it.
   */
  readonly revalidateMs?: number;
  /** Shorter timings for tests: alert-rule flushes, webhook retries, ATNA confirmation and reconnects (milliseconds). */
  readonly timing?: { readonly alertFlushMs?: number; readonly webhookRetryBaseMs?: number; readonly syslogConfirmMs?: number; readonly syslogRetryBaseMs?: number };
}

/** Where the gateway listens once started; `metrics` is absent when listen.metrics.enabled is false. */
export interface BoundAddresses {
  readonly https: AddressInfo; readonly dicom: AddressInfo; readonly metrics?: AddressInfo; readonly dicomLegacy?: AddressInfo; readonly relay?: AddressInfo;
}

export interface Gateway {
  /** Opens the listeners; resolves with their bound addresses. */
  start(): Promise<BoundAddresses>;
  /** Closes the listeners and every resource; open requests and associations are ended. */
  stop(): Promise<void>;
  /** Re-reads users, devices, TLS files and the config file now (what SIGHUP does). */
  reload(): Promise<void>;
  readonly config: GatewayConfig;
  readonly logger: Logger;
  /** Sends the alert rules' pending counts to the state store and raises what crossed a threshold now (otherwise about once a second). */
  flushAlerts(): Promise<void>;
  /** The addresses bound by start() (undefined before it). */
  readonly addresses: BoundAddresses | undefined;
}

interface Started {
  http: HttpServer;
  dimse: DimseServer;
  legacy: LegacyServer | undefined;
  tls: TlsReloader;
  users: UserDirectory;
  devices: DeviceRegistry;
  store: StateStore;
  configReloader: ConfigReloader | undefined;
  stopExpiryChecks: () => void;
  monitoring: Monitoring;
  relay: RelayServer | undefined;
  tickets: TicketKeyRotation | undefined;
}

/** Creates a gateway from a validated configuration (see loadConfig / buildConfig). Nothing listens until start(). */
export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Gateway {
  const logger = options.logger ?? createLogger({ level: config.log.level, flushMs: config.log.flushMs });
  const clock = options.clock ?? systemClock;
  const audit = new Audit(logger, clock);
  let addresses: BoundAddresses | undefined;
  const watch = options.watch ?? true;
  let started: Started | undefined;
  // The config in force: roles and a few other fields are swapped in by the config reloader.
  let current = config;
  const live: GatewayConfig = Object.freeze(Object.defineProperty({ ...config }, 'roles', {
    enumerable: true, get: (): Readonly<Record<string, RoleRules>> => current.roles,
  }));

  const files = tlsFilePaths(config);
  const tlsPaths = {
    cert: files.cert, key: files.key, clientCa: files.clientCa, crl: files.crl, crlRequired: files.crlRequired, caKey: files.caKey,
    ecdsaCert: files.ecdsaCert, ecdsaKey: files.ecdsaKey, ecdsaRequired: files.ecdsaRequired,
  };

  async function start(): Promise<BoundAddresses> {
    if (started !== undefined) throw new TypeError('gateway already started');
    if (config.tls.autoGenerate) {
      const written = ensureDevCertificates(tlsPaths);
      if (written.length > 0) {
        audit.alert('dev-certificates', { files: written, message: 'DEVELOPMENT certificates were generated (tls.autoGenerate). Do not use them in production: issue real ones with "pacs-gateway certs".' });
      }
    }
    const material = loadTlsMaterial(tlsPaths);
    // The outbound relay (relay: in the config; off by default): its destinations' TLS files are read
    // here, before anything else starts; it listens to the audit trail for forwarded C-MOVEs.
    const relay = config.relay === undefined ? undefined : createRelayServer({ config: live, relay: config.relay, logger, audit, clock });
    const store = options.store ?? createStore(config.state, { logger, audit, clock, baseDir: config.baseDir });
    const onReloadError = (what: string) => (err: Error) => audit.alert('reload.refused', { what, reason: err.message });
    let users: UserDirectory;
    if (config.users.backend === 'redis') {
      if (store.kind !== 'redis') throw new TypeError('users.backend redis needs a Redis state store');
      users = await RedisUserDirectory.open(store as Parameters<typeof RedisUserDirectory.open>[0], { watch, clock, logger, onReloadError: onReloadError('users') });
    } else {
      users = new FileUserDirectory(configPath(config, config.users.file), { watch, onReloadError: onReloadError('users') });
    }
    const devices = new DeviceRegistry(configPath(config, config.devices.file), { watch, onReloadError: onReloadError('devices') });
    const signingKey = config.session.signingKey !== undefined ? new TextEncoder().encode(config.session.signingKey) : randomBytes(32);
    const sessions = new SessionService({
      store, clock, signingKey,
      idleMs: config.session.idleMinutes * 60_000, maxMs: config.session.maxHours * 3_600_000,
      dimseTokenMs: config.session.dimseTokenMinutes * 60_000, maxPerUser: config.session.maxPerUser, audit,
      localSessions: config.auth.local,
    });
    const passwords = new PasswordChecker({
      concurrency: config.login.maxConcurrentChecks, queue: config.login.maxQueuedChecks, perKey: config.login.maxChecksPerAddress,
    });
    const directoryLogin = openDirectoryLogin(config, clock);
    const login = new LoginService({ users, store, audit, clock, policy: config.lockout, passwords, local: config.auth.local, ...(directoryLogin === undefined ? {} : { directory: directoryLogin }) });
    // The gateway's own CA in force: devices bound by subjectCn match only certificates it issued.
    let gatewayCa = material.gatewayCa;
    const identity = new GatewayIdentityResolver({ devices, users, login, sessions, audit, gatewayCa: () => gatewayCa });
    // Resumed TLS sessions: the client certificate is checked again against the material in force
    // (tls-watcher), and ticket keys rotate per tls.tickets (README "Cheaper handshakes").
    let tlsInForce = material;
    const recheckPeer = resumedCertificateCheck(() => tlsInForce);
    const rotateMs = config.tls.tickets.rotateMinutes * 60_000;
    const sessionTimeout = rotateMs === 0 ? undefined : rotateMs / 1000;
    const ticketOptions = { recheckPeer, ...(sessionTimeout === undefined ? {} : { sessionTimeout }) };
    const timeout = Math.min(config.upstream.timeoutMs, 2000);
    const web = new URL(config.upstream.dicomweb);
    const http = await buildHttpServer({
      config, logger, audit, tls: material, login, sessions, users, identity, clock, store, ...ticketOptions,
      dicomPort: () => addresses?.dicom.port ?? config.listen.dicom.port,
      oidc: createOidcLogin(config, { sessions, users, store, audit, clock }),
      roles: () => current.roles,
      readiness: [
        { name: 'state-store', check: () => store.ping() },
        { name: 'upstream-dicomweb', check: () => probeTcp(web.hostname, Number(web.port || (web.protocol === 'https:' ? 443 : 80)), timeout) },
        { name: 'upstream-dicom', check: () => probeTcp(config.upstream.dicom.host, config.upstream.dicom.port, timeout) },
        ...(directoryLogin === undefined ? [] : [{ name: 'ldap-directory', check: () => directoryLogin.directory.ping() }]),
      ],
    });
    // `live` reads roles from the config in force, so new associations see reloaded roles.
    const limits = new AssociationLimits(config.dicom.maxAssociations, config.dicom.maxAssociationsPerPrincipal);
    const revalidate = options.revalidateMs === undefined ? {} : { revalidateMs: options.revalidateMs };
    const dimse = createDimseServer({ config: live, logger, audit, identity, tls: material, clock, limits, ...revalidate, ...ticketOptions });
    const tickets = rotateMs === 0 ? undefined : new TicketKeyRotation({
      store, periodMs: rotateMs, logger: logger.child({ component: 'tls-tickets' }), wrapKey: ticketWrapKey(signingKey),
      apply: (key) => { http.edge.setTicketKeys(key); dimse.setTicketKeys(key); },
    });
    // The fenced cleartext port, only when configured (README "Legacy DICOM port").
    const legacyListen = config.listen.dicomLegacy;
    const legacy = legacyListen === undefined ? undefined : createLegacyServer({ config: live, listen: legacyListen, logger, audit, identity, limits, clock, ...revalidate });
    const tls = new TlsReloader(tlsPaths, material, audit, (m) => {
      // setSecureContext replaces every context option, so the profile (versions, AEAD ciphers) goes in
      // again; new handshakes use the new context, open connections keep theirs. Resumed sessions are
      // checked against the new CA bundle and CRL from the next handshake on.
      tlsInForce = m;
      http.edge.setSecureContext({ ...TLS_SERVER_PROFILE, ...secureContextOptions(m), ...(sessionTimeout === undefined ? {} : { sessionTimeout }) });
      dimse.setSecureContext(m);
      tickets?.reapply();
      gatewayCa = m.gatewayCa;
    }, watch);
    const checkExpiry = (): void => {
      warnExpiring(audit, expiringWithin(expiryItems(tls.current, devices.list()), current.tls.expiryWarningDays, clock()));
    };
    const configReloader = options.configFile === undefined ? undefined : new ConfigReloader({
      file: options.configFile, initial: config, audit, logger, watch,
      apply: (next, changed) => {
        current = next;
        if (changed.includes('log.level')) logger.level = next.log.level;
        if (changed.includes('tls.expiryWarningDays')) checkExpiry();
        logger.info({ fields: changed }, 'configuration reloaded');
      },
    });
    // Alert rules, sinks, metrics and the ATNA export listen to the audit trail before any traffic arrives.
    const monitoring = startMonitoring({
      config, audit, store, logger, clock, timing: options.timing,
      associationsOpen: () => dimse.stats().associations + (legacy?.stats().associations ?? 0),
      expiryItems: () => expiryItems(tls.current, devices.list()),
    });
    started = { http, dimse, legacy, tls, users, devices, store, configReloader, stopExpiryChecks: scheduleDaily(checkExpiry), monitoring, relay, tickets };
    await tickets?.start();
    const https = await http.edge.listen(config.listen.https.host, config.listen.https.port);
    const dicom = await dimse.listen();
    const dicomLegacy = await legacy?.listen();
    const metrics = await monitoring.listen();
    const relayAddress = await relay?.listen();
    addresses = {
      https, dicom, ...(metrics === undefined ? {} : { metrics }), ...(dicomLegacy === undefined ? {} : { dicomLegacy }),
      ...(relayAddress === undefined ? {} : { relay: relayAddress }),
    };
    logger.info({
      https: `${https.address}:${https.port}`, dicom: `${dicom.address}:${dicom.port}`, store: store.kind, users: users.kind,
      ...(metrics === undefined ? {} : { metrics: `${metrics.address}:${metrics.port}` }),
      ...(dicomLegacy === undefined ? {} : { dicomLegacy: `${dicomLegacy.address}:${dicomLegacy.port}` }),
    }, 'pacs-gateway listening');
    return addresses;
  }

  async function stop(): Promise<void> {
    const s = started;
    started = undefined;
    if (s === undefined) return;
    s.tls.close();
    s.tickets?.stop();
    s.devices.close();
    s.configReloader?.close();
    s.stopExpiryChecks();
    addresses = undefined;
    await Promise.allSettled([s.http.edge.close(), s.dimse.close(), s.legacy?.close(), s.users.close(), s.relay?.close()]);
    await s.http.app.close();
    await s.monitoring.stop();
    if (options.store === undefined) await s.store.close();
  }

  async function reload(): Promise<void> {
    if (started === undefined) return;
    started.configReloader?.reload();
    await started.users.reload();
    started.devices.reload();
    started.tls.reload();
  }

  const flushAlerts = async (): Promise<void> => { await started?.monitoring.engine.flush(); };
  return { start, stop, reload, flushAlerts, config: live, logger, get addresses() { return addresses; } };
}
