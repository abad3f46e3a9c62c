// Every fuzz target, by name, loaded on demand: a fuzzing process holds only its target's modules, which keeps V8's coverage reads cheap.

import type { FuzzTarget } from '../engine/target.js';

const LOADERS: Readonly<Record<string, () => Promise<FuzzTarget>>> = Object.freeze({
  'pdu-reader': async () => (await import('./pdu-reader.js')).pduReaderTarget,
  'associate-rq': async () => (await import('./associate.js')).associateRqTarget,
  'associate-ac': async () => (await import('./associate.js')).associateAcTarget,
  'user-identity': async () => (await import('./user-identity.js')).userIdentityTarget,
  'command-set': async () => (await import('./command-set.js')).commandSetTarget,
  association: async () => (await import('./association.js')).associationTarget,
  'request-head': async () => (await import('./http-heads.js')).requestHeadTarget,
  'response-head': async () => (await import('./http-heads.js')).responseHeadTarget,
  'body-framer': async () => (await import('./body-framer.js')).bodyFramerTarget,
  'classify-dicomweb': async () => (await import('./classify.js')).classifyTarget,
  'wado-uri': async () => (await import('./classify.js')).wadoUriTarget,
  'cookies-bearer': async () => (await import('./credentials.js')).credentialsTarget,
  jwt: async () => (await import('./credentials.js')).jwtTarget,
  der: async () => (await import('./der-crl.js')).derTarget,
  crl: async () => (await import('./der-crl.js')).crlTarget,
  config: async () => (await import('./config-files.js')).configTarget,
  'users-file': async () => (await import('./config-files.js')).usersFileTarget,
  'devices-file': async () => (await import('./config-files.js')).devicesFileTarget,
});

/** Target names in the order `all` runs them. */
export const TARGET_NAMES: readonly string[] = Object.freeze(Object.keys(LOADERS));

export function loadTarget(name: string): Promise<FuzzTarget> | undefined {
  return LOADERS[name]?.();
}
