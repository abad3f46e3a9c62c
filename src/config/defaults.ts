// Every configuration default in one place; a config file overrides these field by field.

/**
 * Defaults, chosen to be safe:
 * - lockout: 10 failures per account in 15 minutes locks it for 15 minutes, far under the
 *   NIST SP 800-63B §5.2.2 ceiling of 100 consecutive failures, and short enough that a
 *   clinician is not locked out of a shift; 50 failures per source address catches spraying.
 * - session: 30 minutes idle, 12 hours absolute (a shift), DIMSE tokens 60 minutes.
 * - login: two password checks at once (each is scrypt with 128 MiB for a few hundred ms: two
 *   bound that memory at 256 MiB, leave libuv's other two threads for files and DNS, and still
 *   check ~4.6 logins a second on 2 cores), 32 waiting (~7 s at most), 4 per source address
 *   (one address cannot fill the line; a browser or workstation logs in once).
 * - connections: HTTPS 4096 open (a large hospital's browsers at up to 6 connections each; bounds
 *   descriptors and handshakes), 256 per address (a NAT or terminal server in front of dozens of clinicians); DICOM
 *   1024 (twice maxAssociations, as before), 64 per address (above maxAssociationsPerPrincipal, so
 *   one device can use its whole share; a modality opens a handful). README "Configuration".
 */
export const DEFAULTS = Object.freeze({
  listen: {
    https: { host: '0.0.0.0', port: 8443 }, dicom: { host: '0.0.0.0', port: 2762 },
    // Loopback only: Prometheus runs beside the gateway or scrapes through a port the admin opens on purpose.
    metrics: { host: '127.0.0.1', port: 9464, enabled: true },
  },
  // Anomaly rules (README "Monitoring and alerts" defends each default).
  alerts: {
    rules: {
      'query-sweep': { enabled: true, threshold: 1000, windowMinutes: 60 },
      'bulk-retrieve': { enabled: true, threshold: 50000, bytes: 50 * 1024 ** 3, windowMinutes: 60 },
      'off-hours': { enabled: true, threshold: 0, windowMinutes: 60 },
      'new-source': { enabled: true, threshold: 1, windowMinutes: 30 * 24 * 60 },
      'refusal-burst': { enabled: true, threshold: 20, windowMinutes: 5 },
      'password-spray': { enabled: true, threshold: 5, windowMinutes: 15 },
      'association-flood': { enabled: true, threshold: 300, windowMinutes: 1 },
    },
    schedule: { timeZone: 'UTC', roles: {} },
    webhooks: [],
  },
  audit: { syslog: [] },
  tls: {
    cert: 'certs/server.crt', key: 'certs/server.key', clientCa: 'certs/ca.crt',
    autoGenerate: false, expiryWarningDays: 30, tickets: { rotateMinutes: 60 },
  },
  upstream: {
    dicomweb: 'http://127.0.0.1:8042/dicom-web',
    dicom: { host: '127.0.0.1', port: 4242, aeTitle: 'ORTHANC' },
    timeoutMs: 30000,
  },
  // No legacy devices and no legacy port (listen.dicomLegacy) unless configured: README "Legacy DICOM port".
  legacyDevices: {},
  auth: { local: true },
  users: { backend: 'file', file: 'config/users.yaml' },
  devices: { file: 'config/devices.yaml' },
  roles: {
    radiologist: ['echo', 'search', 'retrieve', 'move'],
    technologist: ['echo', 'store'],
    viewer: ['search', 'retrieve'],
  },
  session: { idleMinutes: 30, maxHours: 12, dimseTokenMinutes: 60, cookieName: '__Host-pacs-session', maxPerUser: 5 },
  lockout: { userMaxFailures: 10, addressMaxFailures: 50, windowMinutes: 15, lockMinutes: 15 },
  login: { maxConcurrentChecks: 2, maxQueuedChecks: 32, maxChecksPerAddress: 4 },
  state: {
    store: 'memory', keyPrefix: 'pgw:',
    redis: { host: '127.0.0.1', port: 6379, db: 0, connectTimeoutMs: 2000, commandTimeoutMs: 2000 },
  },
  dicom: {
    artimSeconds: 10, idleSeconds: 300,
    maxAssociateRqBytes: 65536, maxPduBytes: 16777216, maxCommandBytes: 16384,
    maxAssociations: 500, maxAssociationsPerPrincipal: 50, maxAssociationHours: 12,
    maxConnections: 1024, maxConnectionsPerAddress: 64,
  },
  http: { bodyLimitBytes: 1048576, trustProxy: false, maxConnections: 4096, maxConnectionsPerAddress: 256, http2: true },
  enrolment: { inviteHours: 72 },
  log: { level: 'info', flushMs: 20 },
  // The OHIF viewer under /viewer/ (README "Viewer"): on by default, files from scripts/fetch-viewer.sh.
  viewer: { enabled: true, path: '.viewer/ohif' },
});
