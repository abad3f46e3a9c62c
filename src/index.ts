// Public library API for embedding pacs-gateway (PACS vendors): createGateway plus config helpers.

export { createGateway, type Gateway, type GatewayOptions } from './gateway.js';
export { loadConfig, buildConfig } from './config/load.js';
export type { GatewayConfig } from './config/types.js';
export { GatewayError, ERRORS, type ErrorCode } from './errors.js';
export type { StateStore } from './state/store.js';
export { MemoryStore } from './state/memory-store.js';
export type { Principal, AuthMethod } from './identity/principal.js';
export { ACTIONS, type Action } from './policy/actions.js';
