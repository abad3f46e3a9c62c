// Test helper: a real Debian OpenLDAP slapd on free loopback ports (ldaps:// and ldap:// for StartTLS), with a
// generated slapd.conf (mdb backend, the core/cosine/inetOrgPerson/MS-AD user schemas, the ppolicy schema), a
// generated CA and server certificate, and the entries a test gives it loaded with slapadd before start.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueCertificate } from '../../src/tls/issue.js';
import { freePort } from './ports.js';
import { run } from './tools.js';

const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const SCHEMA = '/etc/ldap/schema';
const MODULES = '/usr/lib/ldap';

export const SUFFIX = 'dc=hospital,dc=test';
/** The service account the gateway searches with (search-then-bind). */
export const SERVICE_DN = `cn=gateway,ou=services,${SUFFIX}`;

export interface DirectoryUser {
  /** sAMAccountName (userPrincipalName <name>@hospital.test); the entry is `cn=<name>,ou=people,<suffix>`. */
  readonly name: string;
  readonly password: string;
  /** Group common names (`cn=<group>,ou=groups,<suffix>`): written to memberOf on the user and member on the group. */
  readonly groups?: readonly string[];
  /** AD userAccountControl (512 = normal account, 514 = disabled). */
  readonly userAccountControl?: number;
  /** AD accountExpires (100-ns intervals since 1601-01-01 UTC; 0 or 9223372036854775807 = never). */
  readonly accountExpires?: string;
  /** OpenLDAP ppolicy lock (generalized time, e.g. 000001010000Z = locked by an administrator). */
  readonly pwdAccountLockedTime?: string;
}

export interface SlapdServer {
  readonly ldapsUrl: string;
  /** Plain ldap:// for StartTLS. */
  readonly ldapUrl: string;
  readonly dir: string;
  /** The CA that signed the server certificate (PEM file path). */
  readonly caFile: string;
  readonly caPem: string;
  readonly servicePassword: string;
  userDn(name: string): string;
  groupDn(name: string): string;
  /** Successful and failed simple binds slapd has logged so far for `dn` (all DNs when absent). */
  binds(dn?: string): number;
  /** Searches slapd has logged so far. */
  searches(): number;
  /** Applies an LDIF change (changetype: modify …) as the directory's administrator, with ldapmodify (ldap-utils) over ldaps://. */
  modify(ldif: string): Promise<void>;
  /** Everything slapd wrote on stderr (its stats log). */
  log(): string;
  stop(): Promise<void>;
  /** Freezes (SIGSTOP) / thaws (SIGCONT) slapd: a directory that hangs without closing connections. */
  pause(): Promise<void>;
  resume(): void;
  /** Starts it again on the same ports with the same data. */
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

function waitForPort(port: number, deadline: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`slapd did not listen on ${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

function slapdConf(dir: string, servicePassword: string): string {
  return [
    `include ${SCHEMA}/core.schema`,
    `include ${SCHEMA}/cosine.schema`,
    `include ${SCHEMA}/inetorgperson.schema`,
    `include ${SCHEMA}/nis.schema`,
    `include ${join(dir, 'msuser.schema')}`,
    `modulepath ${MODULES}`,
    'moduleload back_mdb',
    'moduleload ppolicy',
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    `TLSCACertificateFile ${join(dir, 'ca.pem')}`,
    `TLSCertificateFile ${join(dir, 'server.pem')}`,
    `TLSCertificateKeyFile ${join(dir, 'server.key')}`,
    // No plaintext binds: a simple bind on ldap:// before StartTLS is refused (confidentialityRequired).
    'security simple_bind=128',
    'disallow bind_anon',
    'database mdb',
    `suffix "${SUFFIX}"`,
    `rootdn "cn=admin,${SUFFIX}"`,
    `rootpw ${servicePassword}-root`,
    `directory ${join(dir, 'data')}`,
    'maxsize 16777216',
    'overlay ppolicy',
    'access to attrs=userPassword by anonymous auth by * none',
    `access to * by dn.exact="${SERVICE_DN}" read by self read by users search by * none`,
    '',
  ].join('\n');
}

function ldif(users: readonly DirectoryUser[], servicePassword: string): string {
  const groups = new Map<string, string[]>();
  for (const u of users) for (const g of u.groups ?? []) groups.set(g, [...(groups.get(g) ?? []), u.name]);
  const e: string[] = [
    `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: hospital\no: Test Hospital\n`,
    `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n`,
    `dn: ou=services,${SUFFIX}\nobjectClass: organizationalUnit\nou: services\n`,
    `dn: ${SERVICE_DN}\nobjectClass: person\ncn: gateway\nsn: gateway\nuserPassword: ${servicePassword}\n`,
  ];
  for (const u of users) {
    e.push([
      `dn: cn=${u.name},ou=people,${SUFFIX}`, 'objectClass: user', 'objectClass: extensibleObject', `cn: ${u.name}`, `sn: ${u.name}`,
      // What the MS-AD schema requires of every object (msuser.schema mstop); sAMAccountName is in no class of it, hence extensibleObject.
      'instanceType: 4', `objectCategory: cn=Person,cn=Schema,cn=Configuration,${SUFFIX}`, 'nTSecurityDescriptor:: AQAEgA==',
      `sAMAccountName: ${u.name}`, `userPrincipalName: ${u.name}@hospital.test`, `userPassword: ${u.password}`,
      ...(u.groups ?? []).map((g) => `memberOf: cn=${g},ou=groups,${SUFFIX}`),
      ...(u.userAccountControl === undefined ? [] : [`userAccountControl: ${u.userAccountControl}`]),
      ...(u.accountExpires === undefined ? [] : [`accountExpires: ${u.accountExpires}`]),
      ...(u.pwdAccountLockedTime === undefined ? [] : [`pwdAccountLockedTime: ${u.pwdAccountLockedTime}`]),
      '',
    ].join('\n'));
  }
  for (const [g, members] of groups) {
    e.push([`dn: cn=${g},ou=groups,${SUFFIX}`, 'objectClass: groupOfNames', `cn: ${g}`, ...members.map((m) => `member: cn=${m},ou=people,${SUFFIX}`), ''].join('\n'));
  }
  return e.join('\n');
}

/** Starts slapd for one test file with `users` loaded; call destroy() in teardown. */
export async function startSlapd(users: readonly DirectoryUser[]): Promise<SlapdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-slapd-'));
  mkdirSync(join(dir, 'data'));
  const servicePassword = `svc-${Math.random().toString(36).slice(2)}-Pw`;
  const ca = createCa({ commonName: 'slapd test CA' });
  const server = issueCertificate(ca, { commonName: 'localhost', usage: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'server.pem'), server.certPem);
  writeFileSync(join(dir, 'server.key'), server.keyPem, { mode: 0o600 });
  // Debian's copy of the AD schema gives sAMAccountName and userPrincipalName no matching rule; AD matches them without case.
  const msuser = readFileSync(join(SCHEMA, 'msuser.schema'), 'utf8').replace(/(NAME '(?:sAMAccountName|userPrincipalName)'\s+)SYNTAX/g, '$1EQUALITY caseIgnoreMatch SYNTAX');
  writeFileSync(join(dir, 'msuser.schema'), msuser);
  writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir, servicePassword));
  writeFileSync(join(dir, 'data.ldif'), ldif(users, servicePassword));
  const added = await run(SLAPADD, ['-f', join(dir, 'slapd.conf'), '-l', join(dir, 'data.ldif')], { timeoutMs: 30_000 });
  if (added.code !== 0) throw new Error(`slapadd failed (${String(added.code)}): ${added.stderr}`);

  let ldapsPort = 0;
  let ldapPort = 0;
  let child: ChildProcess | undefined;
  let log = '';

  const launch = async (): Promise<void> => {
    // -d 256: stay in the foreground and write the stats log (connections, BIND, SRCH …) on stderr.
    const proc = spawn(SLAPD, ['-f', join(dir, 'slapd.conf'), '-h', `ldaps://127.0.0.1:${ldapsPort}/ ldap://127.0.0.1:${ldapPort}/`, '-d', '256'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`slapd exited (${String(code)}): ${log.slice(-2000)}`))));
    exited.catch(() => undefined);
    await Promise.race([Promise.all([waitForPort(ldapsPort, Date.now() + 10_000), waitForPort(ldapPort, Date.now() + 10_000)]), exited]);
  };

  for (let attempt = 0; ; attempt++) {
    ldapsPort = await freePort();
    ldapPort = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      child?.kill('SIGKILL');
      if (attempt >= 3) throw err; // a port was taken between freePort() and bind: try others
    }
  }

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };

  const userDn = (name: string): string => `cn=${name},ou=people,${SUFFIX}`;
  return {
    get ldapsUrl() { return `ldaps://127.0.0.1:${ldapsPort}`; },
    get ldapUrl() { return `ldap://127.0.0.1:${ldapPort}`; },
    dir,
    caFile: join(dir, 'ca.pem'),
    caPem: ca.certPem,
    servicePassword,
    userDn,
    groupDn: (name) => `cn=${name},ou=groups,${SUFFIX}`,
    binds: (dn) => log.split('\n').filter((l) => / BIND dn="[^"]*" method=128$/.test(l) && (dn === undefined || l.toLowerCase().includes(`dn="${dn.toLowerCase()}"`))).length,
    searches: () => log.split('\n').filter((l) => / SRCH base="/.test(l)).length,
    log: () => log,
    async modify(change) {
      const r = await run('ldapmodify', ['-H', `ldaps://127.0.0.1:${ldapsPort}`, '-x', '-D', `cn=admin,${SUFFIX}`, '-w', `${servicePassword}-root`], {
        input: change, env: { LDAPTLS_CACERT: join(dir, 'ca.pem'), LDAPTLS_REQCERT: 'demand' }, timeoutMs: 20_000,
      });
      if (r.code !== 0) throw new Error(`ldapmodify failed (${String(r.code)}): ${r.stderr}`);
    },
    stop,
    pause: async () => {
      const proc = child;
      if (proc?.pid === undefined) throw new Error('slapd is not running');
      proc.kill('SIGSTOP');
      // The signal is delivered asynchronously: wait until the kernel shows the process stopped ("T").
      for (let i = 0; i < 200 && !/^\d+ \(.*\) T /.test(readFileSync(`/proc/${proc.pid}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 10));
    },
    resume: () => { child?.kill('SIGCONT'); },
    restart: async () => { await stop(); await launch(); },
    destroy: async () => { await stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}
