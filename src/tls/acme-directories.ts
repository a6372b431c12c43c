/**
 * The ACME directories `[tls] acme_ca` can name with a word, so that a config says
 * "letsencrypt" rather than a URL that must be copied exactly.
 *
 * @module
 */

export const ACME_DIRECTORIES = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const;

export type AcmeCaWord = keyof typeof ACME_DIRECTORIES;

/** `acme_ca` (a word, a URL, or absent = Let's Encrypt) -> directory URL and what to call it. */
export function resolveAcmeCa(acmeCa: string | undefined): { directoryUrl: string; caName: AcmeCaWord | 'custom' } {
  const value = acmeCa ?? 'letsencrypt';
  if (value in ACME_DIRECTORIES) return { directoryUrl: ACME_DIRECTORIES[value as AcmeCaWord], caName: value as AcmeCaWord };
  return { directoryUrl: value, caName: 'custom' };
}
