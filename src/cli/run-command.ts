// `pacs-gateway run`: starts the gateway and keeps it running; SIGHUP reloads, SIGTERM/SIGINT stop.

import { parseArgs } from 'node:util';
import { createGateway } from '../gateway.js';
import { configFromArgs } from './config-arg.js';

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
