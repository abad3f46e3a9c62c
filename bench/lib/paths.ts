// Where the bench finds the repository (bin/, package.json) from its compiled location (dist-bench/bench/lib/).

import { fileURLToPath } from 'node:url';

/** The repository root (absolute, with a trailing slash). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The gateway's command-line launcher, run as a separate process: the same source as
 * bin/pacs-gateway.js, compiled with the bench (see bench/gateway-main.ts).
 */
export const GATEWAY_BIN = fileURLToPath(new URL('../gateway-main.js', import.meta.url));

/** The reference proxies without gateway logic (see bench/floor-proxy.ts). */
export const FLOOR_PROXY = fileURLToPath(new URL('../floor-proxy.js', import.meta.url));
