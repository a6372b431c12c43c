/**
 * The configuration layer's public face: what the CLI and the proxy import.
 *
 * @module
 */

export { loadConfig, parseConfig, ENVIRONMENT_SOURCE } from './load.js';
export { formatPlanSummary } from './summary.js';
export { ConfigError } from './errors.js';
export type { ConfigIssue } from './errors.js';
export type * from './types.js';
