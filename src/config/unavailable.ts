/**
 * Keys of the configuration format that this version of warpdrive cannot act on
 * yet. Accepting such a key and ignoring it would mislead a user into an outage
 * or a leak (a "production" file serving plain HTTP, an internal X-Sendfile path
 * reaching the client), so each one is an error, at `check` and at start, naming
 * what is missing and what to do. Each line goes when its feature lands.
 *
 * @module
 */
import type { ConfigIssue } from './errors.js';
import type { Config } from './schema.js';

/** The parts of a parsed document these checks read (any may have failed its schema). */
type Sections = { readonly [K in 'server' | 'tls']: Partial<Config[K]> | undefined };

export function unavailableFeatures(config: Sections): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const missing = (path: string, what: string, fix: string): void => {
    issues.push({ path, message: `${what} is not available in this version of warpdrive yet; fix: ${fix}` });
  };
  // The uWS build in use has a fixed HTTP idle timeout of about 10 s (native-notes/README.md).
  if (config.server?.idle_timeout_secs !== undefined && config.server.idle_timeout_secs !== 10) {
    missing('server.idle_timeout_secs', 'a client idle timeout other than 10 s (fixed in the bundled uWebSockets.js build)', 'remove idle_timeout_secs');
  }
  return issues;
}
