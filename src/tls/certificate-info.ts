/**
 * What a PEM certificate chain and its key say about themselves: names, validity,
 * issuer, whether the key belongs to the certificate, and when renewal is due.
 *
 * Pure (node:crypto only, no I/O), so `check`, the ACME manager and the listener
 * judge a certificate the same way. uWS gives no detail when a pair is wrong (and
 * crashes on some), so every pair is judged here before uWS sees it
 * (native-notes/tls.md).
 *
 * @module
 */
import { X509Certificate, createPrivateKey, createPublicKey, createHash, type KeyObject } from 'node:crypto';

/** A certificate chain (leaf first) and its private key, both PEM. */
export interface CertificatePair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateInfo {
  /** DNS names from subjectAltName (lowercase), or the subject CN when there is no SAN. */
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The issuer's distinguished name, one line (`CN=Pebble Intermediate CA 6720bf`). */
  readonly issuer: string;
  /** SHA-256 of the leaf's DER, hex: identifies this exact certificate (file names, logs). */
  readonly fingerprint: string;
  readonly serialNumber: string;
  /** How many certificates the PEM holds (leaf + intermediates). */
  readonly chainLength: number;
}

/** Why a pair cannot be served; `message` says what and how to fix it. */
export type PairProblem =
  | { readonly kind: 'unreadable-certificate'; readonly message: string }
  | { readonly kind: 'unreadable-key'; readonly message: string }
  | { readonly kind: 'key-mismatch'; readonly message: string }
  | { readonly kind: 'expired'; readonly message: string }
  | { readonly kind: 'not-yet-valid'; readonly message: string };

export type PairVerdict = { readonly ok: true; readonly info: CertificateInfo } | { readonly ok: false; readonly problem: PairProblem; readonly info?: CertificateInfo };

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, in order (leaf first for a served chain). */
export function splitPemChain(pem: string): string[] {
  return pem.match(PEM_CERTIFICATE) ?? [];
}

function namesOf(certificate: X509Certificate): string[] {
  const san = certificate.subjectAltName;
  if (san !== undefined) {
    // "DNS:a.example, DNS:b.example, IP Address:127.0.0.1": only DNS names serve SNI.
    return san
      .split(/,\s*/)
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4).toLowerCase());
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

/** Reads the leaf of a PEM chain; throws a plain Error whose message says what is wrong. */
export function readCertificateInfo(certPem: string): CertificateInfo {
  const chain = splitPemChain(certPem);
  if (chain.length === 0) throw new Error('no "BEGIN CERTIFICATE" block found (is this a PEM certificate file?)');
  const leaf = new X509Certificate(chain[0]!);
  return {
    names: namesOf(leaf),
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    issuer: leaf.issuer.replace(/\n/g, ', '),
    fingerprint: createHash('sha256').update(leaf.raw).digest('hex'),
    serialNumber: leaf.serialNumber,
    chainLength: chain.length,
  };
}

/**
 * Whether `name` (a host name, lowercase, no trailing dot) is covered by a certificate
 * name: equal, or matched by a wildcard `*.example.com`, which covers exactly one
 * label (`a.example.com`, not `example.com` nor `a.b.example.com`), as RFC 6125 says.
 */
export function nameCovers(certificateName: string, name: string): boolean {
  if (certificateName === name) return true;
  if (!certificateName.startsWith('*.')) return false;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === certificateName.slice(2);
}

/** Whether any of the certificate's names covers `domain` (exact or wildcard). */
export function coversDomain(info: CertificateInfo, domain: string): boolean {
  return info.names.some((name) => nameCovers(name, domain));
}

/**
 * When renewal is due: once a third of the lifetime remains (Let's Encrypt's and
 * Caddy's rule; 30 days for a 90-day certificate).
 */
export function renewalDueAt(info: Pick<CertificateInfo, 'notBefore' | 'notAfter'>): Date {
  const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
  return new Date(info.notAfter.getTime() - lifetime / 3);
}

/** The SubjectPublicKeyInfo of a key; a private key yields its public half. */
function publicKeyDer(key: KeyObject): Buffer {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
}

/**
 * Judges a pair at time `now`: both parse, the key is the certificate's, and the
 * certificate is valid now. A failed verdict still carries `info` when the
 * certificate itself could be read.
 */
export function judgePair(pair: CertificatePair, now: Date): PairVerdict {
  let info: CertificateInfo;
  let leaf: X509Certificate;
  try {
    info = readCertificateInfo(pair.certPem);
    leaf = new X509Certificate(splitPemChain(pair.certPem)[0]!);
  } catch (error) {
    return { ok: false, problem: { kind: 'unreadable-certificate', message: `not a readable PEM certificate: ${(error as Error).message}` } };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pair.keyPem);
  } catch (error) {
    const reason = (error as Error).message;
    const encrypted = /encrypted|passphrase|bad decrypt/i.test(reason);
    return {
      ok: false,
      info,
      problem: {
        kind: 'unreadable-key',
        message: encrypted
          ? 'the private key is encrypted; fix: store it unencrypted (openssl pkey -in key.pem -out plain.pem), readable only by warpdrive (chmod 600)'
          : `not a readable PEM private key: ${reason}`,
      },
    };
  }
  if (!publicKeyDer(leaf.publicKey).equals(publicKeyDer(key))) {
    return {
      ok: false,
      info,
      problem: { kind: 'key-mismatch', message: `the private key does not belong to this certificate (${info.names.join(', ') || 'no names'}); fix: give the key the certificate was issued for` },
    };
  }
  if (info.notAfter.getTime() <= now.getTime()) {
    return {
      ok: false,
      info,
      problem: { kind: 'expired', message: `the certificate expired on ${info.notAfter.toISOString()}; fix: renew it and replace the file` },
    };
  }
  if (info.notBefore.getTime() > now.getTime()) {
    return {
      ok: false,
      info,
      problem: { kind: 'not-yet-valid', message: `the certificate is not valid before ${info.notBefore.toISOString()}; fix: check this machine's clock or the certificate` },
    };
  }
  return { ok: true, info };
}
