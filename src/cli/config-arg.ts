// Finds and loads the configuration file a CLI command should use.

import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';

/** The config file used when --config is not given: $PACS_GATEWAY_CONFIG, config/gateway.yaml, else the example (dev defaults). */
export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env['PACS_GATEWAY_CONFIG'] !== undefined && env['PACS_GATEWAY_CONFIG'] !== '') return env['PACS_GATEWAY_CONFIG'];
  return existsSync('config/gateway.yaml') ? 'config/gateway.yaml' : 'config/gateway.example.yaml';
}

export function configFromArgs(values: { config?: string | undefined }): { file: string; config: GatewayConfig } {
  const file = values.config ?? defaultConfigFile();
  return { file, config: loadConfig(file) };
}
