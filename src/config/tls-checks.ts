/**
 * Cross-field checks of `[tls]`, `[server] https_port` and the routes' `https_redirect`:
 * which certificate source serves which name, and that no key is set where it would
 * have no effect. The certificate files themselves are judged in src/tls
 * (`checkCertificateFiles`), which reads them.
 *
 * @module
 */
import type { ConfigIssue } from './errors.js';
import type { RouteConfig, ServerConfig, TlsConfig } from './schema.js';

export interface TlsSections {
  readonly server: ServerConfig | undefined;
  readonly tls: TlsConfig | undefined;
  readonly routes: readonly (RouteConfig | undefined)[] | undefined;
  /** Whether `[postgres]` is configured: then ACME state lives there, not under acme_directory. */
  readonly hasPostgres: boolean;
}

/** ACME keys, which mean nothing when `[tls] cert_file` provides the certificate. */
const acmeKeys = ['acme_ca', 'email', 'eab', 'acme_directory'] as const;

function checkSources(tls: TlsConfig, hasPostgres: boolean, issues: ConfigIssue[]): void {
  const fileMode = tls.cert_file !== undefined;
  if (fileMode) {
    for (const key of acmeKeys) {
      if (tls[key] !== undefined) {
        issues.push({
          path: `tls.${key}`,
          message: `is an ACME setting, but cert_file/key_file provide the certificate, so it would have no effect; fix: remove ${key}, or remove cert_file/key_file to have certificates ordered for domains`,
        });
      }
    }
    return;
  }
  if (tls.domains.length === 0) {
    for (const key of acmeKeys) {
      if (tls[key] !== undefined) {
        issues.push({ path: `tls.${key}`, message: `is an ACME setting, but no domains are listed to order certificates for; fix: add domains = ["example.com"] or remove ${key}` });
      }
    }
    return;
  }
  tls.domains.forEach((domain, i) => {
    if (domain.startsWith('*.')) {
      issues.push({
        path: `tls.domains[${i}]`,
        message: `"${domain}" is a wildcard, which an ACME CA only issues after a DNS-01 challenge, and warpdrive answers HTTP-01 only; fix: list the names (e.g. "www${domain.slice(1)}"), or provide a wildcard certificate in [[tls.certificates]]`,
      });
    }
  });
  if (tls.acme_directory === undefined && !hasPostgres) {
    issues.push({
      path: 'tls.acme_directory',
      message: 'is missing: ordered certificates and the ACME account key must be kept somewhere, or every start orders again (and meets the CA\'s rate limits); fix: add acme_directory = "/var/lib/warpdrive/acme" (or configure [postgres] to keep them in PostgreSQL)',
    });
  }
}

/** Every name must have one source: a name twice would leave the certificate served to chance. */
function checkDuplicateNames(tls: TlsConfig, issues: ConfigIssue[]): void {
  const firstSeen = new Map<string, string>();
  const claim = (name: string, path: string): void => {
    const earlier = firstSeen.get(name);
    if (earlier !== undefined) {
      issues.push({ path, message: `"${name}" is already served by ${earlier}; fix: list each name in one place only` });
    } else firstSeen.set(name, path);
  };
  tls.domains.forEach((domain, i) => claim(domain, `tls.domains[${i}]`));
  tls.certificates.forEach((entry, i) => entry.domains.forEach((domain, j) => claim(domain, `tls.certificates[${i}].domains[${j}]`)));
}

/** The issues of the TLS-related keys (empty = consistent). */
export function checkTls({ server, tls, routes, hasPostgres }: TlsSections): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const enabled = tls?.enabled === true;

  if (tls !== undefined && (tls.cert_file === undefined) !== (tls.key_file === undefined)) {
    const missing = tls.cert_file === undefined ? 'cert_file' : 'key_file';
    issues.push({ path: `tls.${missing}`, message: `expected cert_file and key_file together, found only one; fix: add ${missing} = "/path/to/file.pem"` });
  }
  if (tls !== undefined && enabled && tls.domains.length === 0 && tls.cert_file === undefined && tls.certificates.length === 0) {
    issues.push({
      path: 'tls',
      message: 'enabled = true without domains (for ACME), cert_file/key_file or [[tls.certificates]]; fix: add domains = ["example.com"] or a certificate pair',
    });
  }
  if (tls !== undefined) {
    checkSources(tls, hasPostgres, issues);
    checkDuplicateNames(tls, issues);
    if (tls.eab !== undefined && tls.cert_file === undefined && tls.domains.length > 0 && tls.acme_ca === undefined) {
      issues.push({
        path: 'tls.eab',
        message: 'External Account Binding is for CAs that require it, and Let\'s Encrypt (the default acme_ca) does not; fix: set acme_ca to your CA\'s directory URL, or remove [tls.eab]',
      });
    }
  }

  if (server !== undefined) {
    if (server.https_port !== undefined && server.https_port !== 0 && server.https_port === server.http_port) {
      issues.push({ path: 'server.https_port', message: `expected a port other than http_port (${server.http_port}); fix: use 443 or another free port` });
    } else if (enabled && server.https_port === undefined) {
      issues.push({ path: 'server.https_port', message: 'is missing, and [tls] enabled = true needs a port to serve HTTPS on; fix: add https_port = 443 under [server]' });
    } else if (!enabled && server.https_port !== undefined) {
      issues.push({
        path: 'server.https_port',
        message: `is set, but TLS is ${tls === undefined ? 'not configured' : 'switched off (enabled = false)'}, so nothing would listen there; fix: add [tls] with enabled = true and your domains, or remove https_port`,
      });
    }
  }

  routes?.forEach((route, i) => {
    if (route?.https_redirect === undefined) return;
    if (!enabled || tls?.redirect_http === false) {
      issues.push({
        path: `routes[${i}].https_redirect`,
        message: `only matters when [tls] redirects plain HTTP (enabled = true and redirect_http = true), which ${enabled ? 'redirect_http = false turns off' : 'is not the case'}; fix: remove https_redirect`,
      });
    }
  });
  return issues;
}
