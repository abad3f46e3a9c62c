// Integration environment for the DIMSE guard: a real Orthanc, the real gateway (createGateway), device certificates, dcmtk arguments.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { issueCertificate } from '../../../src/tls/issue.js';
import { startGateway, type TestGateway, type TestGatewayOptions, type TestUser } from '../../helpers/gateway.js';
import { startOrthanc, type OrthancOptions, type OrthancServer } from '../../helpers/orthanc.js';
import { freePort } from '../../helpers/ports.js';
import { startProcess, waitForPort, type StartedProcess } from '../../helpers/tools.js';

/** Files of a device certificate, and its registry entry. */
export interface TestDevice {
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly fingerprint: string;
}

export interface DicomEnv {
  readonly orthanc: OrthancServer;
  readonly gw: TestGateway;
  /** The gateway's DIMSE TLS port. */
  readonly port: number;
  /** Scratch directory for instances, certificates, outputs. */
  readonly dir: string;
  /** The gateway CA (trust anchor for clients), as a file. */
  readonly caFile: string;
  readonly caPem: string;
  /** Issues a device certificate and registers it in the devices file; the gateway picks it up. */
  addDevice(name: string, o: { role: string; aeTitles: string[]; moveDestinations?: string[]; disabled?: boolean }): Promise<TestDevice>;
  /** dcmtk TLS arguments: mutual TLS with a device, or anonymous TLS (`+tla`). */
  tls(device?: TestDevice): string[];
  /** The current user identity passcode for dcmtk --password: password followed by an oathtool code. */
  passcode(user: TestUser): Promise<string>;
  /** A client-side stunnel that wraps plain DICOM on a local port into TLS with the device certificate. */
  stunnel(device: TestDevice): Promise<{ port: number; stop(): Promise<unknown> }>;
  /** A storescp (C-MOVE destination) on the port reserved for `aeTitle`. */
  storescp(aeTitle: string): Promise<{ dir: string; proc: StartedProcess }>;
  stop(): Promise<void>;
}

export interface DicomEnvOptions {
  /** Roles merged over the test gateway's (radiologist, technologist, viewer, admin): use new names for object-form roles. */
  readonly roles?: Record<string, unknown>;
  readonly dicom?: Record<string, number>;
  /** C-MOVE destinations Orthanc knows: AE title → a free port reserved for a storescp. */
  readonly moveDestinations?: readonly string[];
  readonly orthanc?: OrthancOptions;
  /** Further gateway config merged over the environment's (e.g. alerts, http.trustProxy). */
  readonly config?: Record<string, unknown>;
  readonly gatewayOptions?: TestGatewayOptions['gatewayOptions'];
  readonly clock?: TestGatewayOptions['clock'];
}

/** Starts Orthanc and the gateway (HTTPS and DIMSE listeners) in front of it. */
export async function startDicomEnv(options: DicomEnvOptions = {}): Promise<DicomEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'pgw-dicom-'));
  const destPorts = new Map<string, number>();
  for (const ae of options.moveDestinations ?? []) destPorts.set(ae, await freePort());
  const orthanc = await startOrthanc({
    ...options.orthanc,
    modalities: { ...options.orthanc?.modalities, ...Object.fromEntries([...destPorts].map(([ae, port]) => [ae.toLowerCase(), { AET: ae, Host: '127.0.0.1', Port: port }])) },
  });
  let gw: TestGateway;
  try {
    gw = await startGateway({
      orthanc, dicom: true,
      ...(options.gatewayOptions === undefined ? {} : { gatewayOptions: options.gatewayOptions }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      config: {
        ...options.config,
        ...(options.roles === undefined ? {} : { roles: options.roles }),
        dicom: { artimSeconds: 5, ...options.dicom },
      },
    });
  } catch (err) {
    await orthanc.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const caFile = join(gw.dir, 'certs/ca.crt');
  const caPem = readFileSync(caFile, 'utf8');
  const caKey = readFileSync(join(gw.dir, 'certs/ca.key'), 'utf8');
  const devices: Record<string, unknown> = {};
  const procs: Array<{ stop(): Promise<unknown> }> = [];
  const env: DicomEnv = {
    orthanc, gw, dir, caFile, caPem,
    port: gw.dicomPort as number,
    async addDevice(name, o) {
      const issued = issueCertificate({ certPem: caPem, keyPem: caKey }, { commonName: name, usage: 'client' });
      const certFile = join(dir, `${name}.crt`);
      const keyFile = join(dir, `${name}.key`);
      writeFileSync(certFile, issued.certPem);
      writeFileSync(keyFile, issued.keyPem, { mode: 0o600 });
      devices[name] = { role: o.role, aeTitles: o.aeTitles, moveDestinations: o.moveDestinations ?? [], fingerprint: issued.fingerprint256, disabled: o.disabled === true };
      mkdirSync(join(gw.dir, 'config'), { recursive: true });
      writeFileSync(join(gw.dir, 'config/devices.yaml'), stringify({ devices }));
      await gw.gateway.reload();
      return { name, certFile, keyFile, certPem: issued.certPem, keyPem: issued.keyPem, fingerprint: issued.fingerprint256 };
    },
    tls: (device) => (device === undefined ? ['+tla', '+cf', caFile] : ['+tls', device.keyFile, device.certFile, '+cf', caFile]),
    async passcode(user) {
      // A TOTP code is accepted once: step the gateway's clock so each association gets a fresh one.
      gw.clock.advance(30_000);
      return `${user.password}${await gw.code(user)}`;
    },
    async stunnel(device) {
      const port = await freePort();
      const conf = join(dir, `stunnel-${port}.conf`);
      writeFileSync(conf, [
        'foreground = yes', 'pid =', 'debug = warning', '',
        '[dicom]', 'client = yes', `accept = 127.0.0.1:${port}`, `connect = 127.0.0.1:${gw.dicomPort}`,
        `cert = ${device.certFile}`, `key = ${device.keyFile}`, `CAfile = ${caFile}`, 'verifyChain = yes',
        'sslVersionMin = TLSv1.2', 'socket = l:TCP_NODELAY=1', 'socket = r:TCP_NODELAY=1', '',
      ].join('\n'));
      const proc = await startProcess('stunnel4', [conf]);
      procs.push(proc);
      await waitForPort(port);
      return { port, stop: () => proc.stop() };
    },
    async storescp(aeTitle) {
      const port = destPorts.get(aeTitle);
      if (port === undefined) throw new TypeError(`${aeTitle} was not declared in moveDestinations`);
      const out = mkdtempSync(join(dir, `scp-${aeTitle}-`));
      const proc = await startProcess('storescp', ['-aet', aeTitle, '-od', out, '--fork', String(port)]);
      procs.push(proc);
      await waitForPort(port);
      return { dir: out, proc };
    },
    async stop() {
      await Promise.allSettled(procs.map((p) => p.stop()));
      await gw.stop();
      await orthanc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return env;
}
