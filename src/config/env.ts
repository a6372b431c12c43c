/**
 * Environment variables: overrides that win over the file (as the seed says),
 * and the single-upstream target of simple mode.
 *
 * Each bad value is an issue whose path is the variable's name, so the message
 * points at the shell, not at a TOML key the user never wrote.
 *
 * @module
 */

import type { ConfigIssue } from './errors.js';
import { describeValue } from './errors.js';
import { isBindAddress, isIpOrCidr } from './addresses.js';
import { logLevels, parseLogLevel } from '../log.js';

/** Values from `WARPDRIVE_*` variables that replace the file's. */
export interface EnvOverrides {
  readonly httpPort: number | undefined;
  readonly bindAddress: string | undefined;
  readonly maxHeaderBytes: number | undefined;
  readonly adminToken: string | undefined;
  readonly logRequests: boolean | undefined;
  readonly trustedProxies: readonly string[] | undefined;
  readonly shutdownTimeoutSecs: number | undefined;
  /** Replaces `[admin] token` (the admin listener's bearer token). */
  readonly adminApiToken: string | undefined;
}

/** The one upstream of simple mode. */
export type SimpleTarget = { readonly host: string; readonly port: number } | { readonly socket: string };

/** Every variable warpdrive reads, for docs and `did you mean` on typos. */
export const envVarNames = [
  'WARPDRIVE_CONFIG',
  'WARPDRIVE_HTTP_PORT',
  'WARPDRIVE_BIND_ADDRESS',
  'WARPDRIVE_MAX_HEADER_BYTES',
  'WARPDRIVE_ADMIN_TOKEN',
  'WARPDRIVE_ADMIN_API_TOKEN',
  'WARPDRIVE_LOG_REQUESTS',
  'WARPDRIVE_TRUSTED_PROXIES',
  'WARPDRIVE_SHUTDOWN_TIMEOUT_SECS',
  'WARPDRIVE_TARGET_HOST',
  'WARPDRIVE_TARGET_PORT',
  'WARPDRIVE_TARGET_SOCKET',
  'WARPDRIVE_LOG_LEVEL',
] as const;

/** An unset or blank variable counts as absent (`VAR= warpdrive` is a common way to unset). */
function read(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function bad(name: string, expected: string, found: string, fix?: string): ConfigIssue {
  return { path: name, message: `expected ${expected}, found ${describeValue(found)}${fix === undefined ? '' : `; fix: ${fix}`}` };
}

function readInteger(env: NodeJS.ProcessEnv, name: string, min: number, max: number, expected: string, issues: ConfigIssue[]): number | undefined {
  const value = read(env, name);
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    issues.push(bad(name, expected, value, `export ${name}=<${expected}> or unset it`));
    return undefined;
  }
  return Number(value);
}

const trueWords = new Set(['1', 'true', 'yes', 'on']);
const falseWords = new Set(['0', 'false', 'no', 'off']);

/** Reads the override variables; bad values become issues, never exceptions. */
export function readEnvOverrides(env: NodeJS.ProcessEnv, issues: ConfigIssue[]): EnvOverrides {
  const httpPort = readInteger(env, 'WARPDRIVE_HTTP_PORT', 0, 65535, 'a port number 0-65535', issues);
  const maxHeaderBytes = readInteger(env, 'WARPDRIVE_MAX_HEADER_BYTES', 1024, 1048576, 'a byte count 1024-1048576', issues);

  let bindAddress = read(env, 'WARPDRIVE_BIND_ADDRESS');
  if (bindAddress !== undefined && !isBindAddress(bindAddress)) {
    issues.push(bad('WARPDRIVE_BIND_ADDRESS', 'an IP address such as 0.0.0.0 or 127.0.0.1', bindAddress));
    bindAddress = undefined;
  }

  let logRequests: boolean | undefined;
  const logText = read(env, 'WARPDRIVE_LOG_REQUESTS');
  if (logText !== undefined) {
    const lower = logText.toLowerCase();
    if (trueWords.has(lower)) logRequests = true;
    else if (falseWords.has(lower)) logRequests = false;
    else issues.push(bad('WARPDRIVE_LOG_REQUESTS', 'true/false (or 1/0, yes/no, on/off)', logText));
  }

  let trustedProxies: string[] | undefined;
  const proxiesText = read(env, 'WARPDRIVE_TRUSTED_PROXIES');
  if (proxiesText !== undefined) {
    trustedProxies = proxiesText.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
    for (const entry of trustedProxies) {
      if (!isIpOrCidr(entry)) {
        issues.push(bad('WARPDRIVE_TRUSTED_PROXIES', 'a comma-separated list of IP addresses or CIDRs such as 10.0.0.0/8,127.0.0.1', entry));
      }
    }
  }

  // The logger reads this variable itself (it must work before any config is loaded);
  // checking it here makes a typo stop `check` and a start like any other bad value.
  const logLevel = read(env, 'WARPDRIVE_LOG_LEVEL');
  if (logLevel !== undefined && parseLogLevel(logLevel) === undefined) {
    issues.push(bad('WARPDRIVE_LOG_LEVEL', `a log level: ${logLevels.join(', ')}`, logLevel, 'export WARPDRIVE_LOG_LEVEL=debug (or info, warn, error), or unset it for info'));
  }

  let shutdownTimeoutSecs: number | undefined;
  const shutdownText = read(env, 'WARPDRIVE_SHUTDOWN_TIMEOUT_SECS');
  if (shutdownText !== undefined) {
    const secs = Number(shutdownText);
    if (!/^[0-9]+(\.[0-9]+)?$/.test(shutdownText) || !Number.isFinite(secs)) {
      issues.push(bad('WARPDRIVE_SHUTDOWN_TIMEOUT_SECS', 'a number of seconds >= 0', shutdownText));
    } else shutdownTimeoutSecs = secs;
  }

  return {
    httpPort,
    bindAddress,
    maxHeaderBytes,
    adminToken: read(env, 'WARPDRIVE_ADMIN_TOKEN'),
    adminApiToken: read(env, 'WARPDRIVE_ADMIN_API_TOKEN'),
    logRequests,
    trustedProxies,
    shutdownTimeoutSecs,
  };
}

/** Reads simple mode's target: `WARPDRIVE_TARGET_SOCKET`, or host (127.0.0.1) and port (3000). */
export function readSimpleTarget(env: NodeJS.ProcessEnv, issues: ConfigIssue[]): SimpleTarget {
  const socket = read(env, 'WARPDRIVE_TARGET_SOCKET');
  const host = read(env, 'WARPDRIVE_TARGET_HOST');
  const portText = read(env, 'WARPDRIVE_TARGET_PORT');
  if (socket !== undefined) {
    if (host !== undefined || portText !== undefined) {
      issues.push({
        path: 'WARPDRIVE_TARGET_SOCKET',
        message: 'set together with WARPDRIVE_TARGET_HOST/WARPDRIVE_TARGET_PORT; fix: set either the socket or host and port, not both',
      });
    }
    return { socket };
  }
  const port = readInteger(env, 'WARPDRIVE_TARGET_PORT', 1, 65535, 'a port number 1-65535', issues) ?? 3000;
  return { host: host ?? '127.0.0.1', port };
}
