// `pacs-gateway run`: starts the gateway and keeps it running; SIGHUP reloads, SIGTERM/SIGINT stop.

import { parseArgs } from 'node:util';
import { createGateway } from '../gateway.js';
import { configFromArgs } from './config-arg.js';
import { missingRuntimeFlags, RUNTIME_FLAGS } from './runtime-flags.js';

export async function runCommand(argv: string[], err: (s: string) => void): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { config: { type: 'string' } } });
  const { file, config } = configFromArgs(values);
  const gateway = createGateway(config, { configFile: file });
  try {
    await gateway.start();
  } catch (e) {
    err(`pacs-gateway could not start (config ${file}): ${(e as Error).message}`);
    await gateway.stop();
    return 1;
  }
  const missing = missingRuntimeFlags();
  if (missing.length > 0) {
    gateway.logger.info({ missing }, `node was started without ${missing.join(' ')}: latency tails are longer on a small host (start it as \`node ${RUNTIME_FLAGS.join(' ')} bin/pacs-gateway.js run\`, as the container and npm start do)`);
  }
  process.on('SIGHUP', () => {
    gateway.logger.info('SIGHUP: reloading the config (roles), users, devices and certificates');
    void gateway.reload();
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      gateway.logger.info({ signal }, 'stopping');
      void gateway.stop().finally(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
