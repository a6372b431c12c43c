/**
 * What `warpdrive check` says about HTTPS: the listener, the redirect and HSTS,
 * and for each domain where its certificate comes from, when it expires, when it
 * will be renewed, and the last renewal failure. ACME certificates are read from
 * the store the configuration names (files or PostgreSQL), without changing it.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import type { RuntimePlan } from '../config/types.js';
import { readCertificateInfo, renewalDueAt, type CertificateInfo } from './certificate-info.js';
import { readFileCertificates } from './certificate-files.js';
import type { CertificateStore } from './certificate-store.js';
import { FileStore } from './file-store.js';
import { PostgresStore } from './postgres-store.js';

const DAY_MS = 86400_000;

function until(date: Date, now: Date): string {
  const days = (date.getTime() - now.getTime()) / DAY_MS;
  if (days < 0) return `${Math.ceil(-days)} day(s) ago`;
  return days < 1 ? `in ${Math.max(0, Math.round(days * 24))} hour(s)` : `in ${Math.floor(days)} day(s)`;
}

function expiry(info: CertificateInfo, now: Date): string {
  return `expires ${info.notAfter.toISOString()} (${until(info.notAfter, now)}), issued by ${info.issuer}`;
}

function openForInspection(plan: RuntimePlan): CertificateStore | undefined {
  const acme = plan.tls?.acme;
  if (acme === undefined) return undefined;
  if (plan.postgres !== undefined) return new PostgresStore(plan.postgres.url, { connectTimeoutMs: 3000, inspectOnly: true });
  // A directory that does not exist yet holds nothing, and check creates nothing.
  return acme.directory !== undefined && existsSync(acme.directory) ? new FileStore(acme.directory) : undefined;
}

/** The HTTPS part of `check`'s output (empty when TLS is off). */
export async function describeTls(plan: RuntimePlan, now = new Date()): Promise<string[]> {
  const tls = plan.tls;
  if (tls === undefined || !tls.enabled) return [];
  const { server } = plan;
  const host = server.bindAddress.includes(':') ? `[${server.bindAddress}]` : server.bindAddress;
  const lines = [
    `https: https://${host}:${server.httpsPort}${server.httpsPort === 0 ? ' (any free port)' : ''}, TLS 1.2-1.3; ` +
      `plain HTTP ${tls.redirectHttp ? 'redirected with 308 (except ACME challenges and routes with https_redirect = false)' : 'served as is (redirect_http = false)'}; ` +
      `HSTS ${tls.hsts === undefined ? 'off' : tls.hsts.headerValue}`,
    'certificates:',
  ];
  for (const certificate of readFileCertificates(tls.fileCertificates, now).certificates) {
    lines.push(`  ${certificate.names.join(', ')}: ${certificate.source}, ${expiry(certificate.info, now)}; renew it yourself before then (warpdrive reads it at start)`);
  }
  const acme = tls.acme;
  if (acme !== undefined) {
    const ca = acme.caName === 'custom' ? acme.directoryUrl : `${acme.caName} (${acme.directoryUrl})`;
    const store = openForInspection(plan);
    lines.push(`  ACME from ${ca}${acme.email === undefined ? '' : `, contact ${acme.email}`}${acme.eab === undefined ? '' : ', with External Account Binding'}; stored in ${store?.description ?? `files under ${acme.directory} (nothing there yet)`}`);
    for (const domain of acme.domains) {
      try {
        const stored = await store?.loadCertificate(domain);
        const failure = await store?.loadFailure(domain);
        if (stored === undefined) {
          lines.push(`  ${domain}: none yet; ordered when warpdrive starts (until then HTTPS handshakes for it fail and plain HTTP answers 503)`);
        } else {
          const info = readCertificateInfo(stored.certPem);
          const due = renewalDueAt(info);
          lines.push(`  ${domain}: ACME, ${expiry(info, now)}; renewal ${due.getTime() <= now.getTime() ? 'due now' : `from ${due.toISOString()} (${until(due, now)})`}`);
        }
        if (failure !== undefined) lines.push(`    last renewal failure ${failure.at.toISOString()}: ${failure.message}`);
      } catch (error) {
        lines.push(`  ${domain}: cannot read the certificate store (${store?.description}): ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    await store?.close();
  }
  return lines;
}
