/**
 * HTTP dates for tests that build headers: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
 *
 * @module
 */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
