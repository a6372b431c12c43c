/**
 * Certificates the user provides as files (`[tls] cert_file`/`key_file` and
 * `[[tls.certificates]]`): read them, judge them, and say precisely what is wrong,
 * as `check` and every start do before anything listens.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigIssue } from '../config/errors.js';
import type { FileCertificateSpec } from '../config/types.js';
import { coversDomain, judgePair, type CertificateInfo, type CertificatePair } from './certificate-info.js';

/** A certificate ready to serve: its PEMs, what it says, and the names it serves here. */
export interface ServableCertificate {
  /** The names SNI selects it for (exact or `*.` wildcard), lowercase. */
  readonly names: readonly string[];
  readonly pair: CertificatePair;
  readonly info: CertificateInfo;
  /** Where it comes from, for logs and `check`. */
  readonly source: string;
}

type Read = { ok: true; text: string } | { ok: false; message: string };

function readPem(file: string, what: string): Read {
  try {
    return { ok: true, text: readFileSync(file, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const absolute = resolve(file);
    if (code === 'ENOENT') return { ok: false, message: `${what} not found: ${absolute}; fix: check the path (relative paths start from warpdrive's working directory)` };
    if (code === 'EACCES') return { ok: false, message: `${what} is not readable by this user: ${absolute}; fix: chown/chmod it so warpdrive can read it (keys: mode 600)` };
    if (code === 'EISDIR') return { ok: false, message: `${what} is a directory: ${absolute}; fix: point to the PEM file inside it` };
    return { ok: false, message: `cannot read ${what} ${absolute}: ${(error as Error).message}` };
  }
}

/**
 * Reads and judges one configured certificate at `now`. Returns the servable
 * certificate, or the issues (key paths in TOML terms) that refuse it.
 */
export function readFileCertificate(spec: FileCertificateSpec, now: Date): { certificate: ServableCertificate; issues: [] } | { certificate: undefined; issues: ConfigIssue[] } {
  const cert = readPem(spec.certFile, 'certificate file');
  const key = readPem(spec.keyFile, 'key file');
  const issues: ConfigIssue[] = [];
  if (!cert.ok) issues.push({ path: `${spec.configPath}.cert_file`, message: cert.message });
  if (!key.ok) issues.push({ path: `${spec.configPath}.key_file`, message: key.message });
  if (!cert.ok || !key.ok) return { certificate: undefined, issues };

  const pair = { certPem: cert.text, keyPem: key.text };
  const verdict = judgePair(pair, now);
  if (!verdict.ok) {
    const onKey = verdict.problem.kind === 'unreadable-key' || verdict.problem.kind === 'key-mismatch';
    const file = onKey ? spec.keyFile : spec.certFile;
    return { certificate: undefined, issues: [{ path: `${spec.configPath}.${onKey ? 'key_file' : 'cert_file'}`, message: `${resolve(file)}: ${verdict.problem.message}` }] };
  }
  const { info } = verdict;
  const names = spec.domains.length > 0 ? spec.domains : info.names;
  if (names.length === 0) {
    return { certificate: undefined, issues: [{ path: `${spec.configPath}.cert_file`, message: `${resolve(spec.certFile)} names no DNS name (no subjectAltName, no CN); fix: list the names it serves with domains = [...]` }] };
  }
  spec.domains.forEach((domain, i) => {
    if (!coversDomain(info, domain)) {
      issues.push({
        path: `${spec.configPath}.domains[${i}]`,
        message: `"${domain}" is not covered by ${resolve(spec.certFile)}, which is for ${info.names.join(', ') || 'no DNS name'}; fix: use a certificate that includes ${domain}, or serve ${domain} from another entry`,
      });
    }
  });
  if (issues.length > 0) return { certificate: undefined, issues };
  return { certificate: { names, pair, info, source: `file ${resolve(spec.certFile)}` }, issues: [] };
}

/** Reads every configured certificate file; all the issues at once, as `check` reports them. */
export function readFileCertificates(specs: readonly FileCertificateSpec[], now: Date): { certificates: ServableCertificate[]; issues: ConfigIssue[] } {
  const certificates: ServableCertificate[] = [];
  const issues: ConfigIssue[] = [];
  for (const spec of specs) {
    const result = readFileCertificate(spec, now);
    if (result.certificate !== undefined) certificates.push(result.certificate);
    issues.push(...result.issues);
  }
  return { certificates, issues };
}
