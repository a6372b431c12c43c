/**
 * The cache's clock. Freshness is decided against `clock.now()`; tests of the
 * caching rules move it forward instead of sleeping through max-age windows
 * (each test file runs in its own process, so nothing else sees the change).
 *
 * @module
 */

export const clock: { now: () => number } = { now: Date.now };
