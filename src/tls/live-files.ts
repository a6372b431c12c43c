/**
 * The certificate files uWS reads. uWS takes file names only, reads them once
 * when a listener is built, and crashes on a bad or half-written file
 * (native-notes/tls.md). So every certificate it serves, from the user's files or
 * from the store, is first judged (certificate-info.ts), then copied here under a
 * name made of its fingerprint: written to a temporary name and renamed, never
 * changed afterwards, keys mode 0600, in a directory only warpdrive can enter.
 * Files are never removed while warpdrive runs (a proxy thread may be building its
 * listener from them); a few kilobytes per certificate change.
 *
 * @module
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ServableCertificate } from './certificate-files.js';

/** A certificate as uWS gets it: names for SNI and two file paths. */
export interface InstalledCertificate {
  readonly names: readonly string[];
  readonly certFile: string;
  readonly keyFile: string;
  readonly fingerprint: string;
  readonly notAfter: Date;
  readonly source: string;
}

function writeOnce(file: string, content: string, mode: number): void {
  if (existsSync(file)) return;
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode });
  renameSync(temporary, file);
}

export class LiveFiles {
  readonly directory: string;
  readonly #owned: boolean;

  /** `directory`: a given place (created 0700); none: a private temporary directory removed by `close()`. */
  constructor(directory?: string) {
    if (directory === undefined) {
      this.directory = mkdtempSync(path.join(tmpdir(), 'warpdrive-tls-'));
      this.#owned = true;
    } else {
      this.directory = path.resolve(directory);
      mkdirSync(this.directory, { recursive: true, mode: 0o700 });
      this.#owned = false;
    }
  }

  /** Writes what is not there yet and returns the files to hand to uWS. */
  install(certificates: readonly ServableCertificate[]): InstalledCertificate[] {
    return certificates.map((certificate) => {
      const base = path.join(this.directory, certificate.info.fingerprint.slice(0, 32));
      writeOnce(`${base}.key`, certificate.pair.keyPem, 0o600);
      writeOnce(`${base}.crt`, certificate.pair.certPem, 0o644);
      return {
        names: certificate.names,
        certFile: `${base}.crt`,
        keyFile: `${base}.key`,
        fingerprint: certificate.info.fingerprint,
        notAfter: certificate.info.notAfter,
        source: certificate.source,
      };
    });
  }

  close(): void {
    if (this.#owned) rmSync(this.directory, { recursive: true, force: true });
  }
}
