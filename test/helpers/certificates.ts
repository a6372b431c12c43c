/**
 * Test certificates made with the `openssl` command (ECDSA P-256, as the bench
 * and the docs use): a private CA, and leaf certificates for any names and
 * validity window, including expired ones (`openssl ca` takes explicit dates).
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './upstream.js';

export interface TestCa {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
}

export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** Leaf followed by the CA certificate, as a server sends it. */
  readonly certPem: string;
  readonly keyPem: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A fresh CA ("warpdrive test CA"), valid for 30 days from now. */
export function makeTestCa(name = 'warpdrive test CA'): TestCa {
  const dir = tempDir('wd-ca-');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '30', '-subj', `/CN=${name}`, '-out', 'ca.pem'], dir);
  mkdirSync(path.join(dir, 'issued'));
  writeFileSync(path.join(dir, 'index.txt'), '');
  writeFileSync(path.join(dir, 'serial'), `${Date.now().toString(16).padStart(16, '0')}\n`);
  writeFileSync(
    path.join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'new_certs_dir = $dir/issued',
      'certificate = $dir/ca.pem',
      'private_key = $dir/ca.key',
      'default_md = sha256',
      'policy = anything',
      'unique_subject = no',
      'copy_extensions = none',
      '[anything]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  return { dir, certFile: path.join(dir, 'ca.pem'), keyFile: path.join(dir, 'ca.key'), certPem: readFileSync(path.join(dir, 'ca.pem'), 'utf8') };
}

/** `openssl ca` date format: YYYYMMDDHHMMSSZ. */
function asn1Time(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

let counter = 0;

/**
 * A leaf certificate for `names` (the first is the CN; all are DNS SANs), signed by
 * `ca`, valid from `notBefore` to `notAfter` (default: an hour ago to 10 days on).
 */
export function issueCertificate(ca: TestCa, names: readonly string[], validity: { notBefore?: Date; notAfter?: Date } = {}): TestCertificate {
  const id = `leaf-${++counter}`;
  const dir = ca.dir;
  const notBefore = validity.notBefore ?? new Date(Date.now() - 3600_000);
  const notAfter = validity.notAfter ?? new Date(Date.now() + 10 * 86400_000);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${id}.key`], dir);
  openssl(['req', '-new', '-key', `${id}.key`, '-subj', `/CN=${names[0]}`, '-out', `${id}.csr`], dir);
  writeFileSync(path.join(dir, `${id}.ext`), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  openssl(
    ['ca', '-batch', '-config', 'ca.cnf', '-in', `${id}.csr`, '-out', `${id}.crt`, '-notext', '-extfile', `${id}.ext`, '-startdate', asn1Time(notBefore), '-enddate', asn1Time(notAfter)],
    dir,
  );
  const certPem = readFileSync(path.join(dir, `${id}.crt`), 'utf8') + ca.certPem;
  const certFile = path.join(dir, `${id}.chain.pem`);
  writeFileSync(certFile, certPem);
  const keyFile = path.join(dir, `${id}.key`);
  return { certFile, keyFile, certPem, keyPem: readFileSync(keyFile, 'utf8') };
}
