/**
 * The files the file scenarios serve, written once per bench run into its work
 * directory: the same bytes for every proxy, readable by nginx's worker (which
 * runs as "nobody" when the bench is started as root).
 *
 * - `public/robots.txt`: a small static file (2 KiB);
 * - `public/assets/application-<digest>.js` (50 KiB) and its `.gz` sibling,
 *   compressed at level 9 as asset pipelines do;
 * - `private/1m.bin`: 1 MiB served through X-Accel-Redirect.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { sampleJson } from './sample-bodies.js';

export const SMALL_STATIC_PATH = '/robots.txt';
export const SMALL_STATIC_BYTES = 2 * 1024;
export const ASSET_PATH = '/assets/application-3f2a9c1b.js';
export const ASSET_BYTES = 50 * 1024;
/** What the upstream names in X-Accel-Redirect, and where the proxies map it. */
export const ACCEL_PREFIX = '/private/';
export const ACCEL_FILE = '1m.bin';
export const ACCEL_BYTES = 1024 * 1024;

/** The contents of each served file, by request path (the asset's is the uncompressed one). */
export function benchFileContents(): { small: Buffer; asset: Buffer; accel: Buffer } {
  const small = Buffer.from('User-agent: *\nDisallow: /admin\n'.repeat(Math.ceil(SMALL_STATIC_BYTES / 31))).subarray(0, SMALL_STATIC_BYTES);
  const asset = Buffer.concat([Buffer.from('window.BENCH = '), sampleJson(ASSET_BYTES - 16), Buffer.from(';')]);
  // Deterministic and incompressible enough: a 1 MiB pattern no proxy can shortcut.
  const accel = Buffer.alloc(ACCEL_BYTES);
  for (let i = 0; i < accel.length; i += 4) accel.writeUInt32LE((Math.imul(i, 2654435761) >>> 0), i);
  return { small, asset, accel };
}

/** Writes the tree under `dir` (public/ and private/); returns `dir`. */
export function writeBenchFiles(dir: string): string {
  const { small, asset, accel } = benchFileContents();
  mkdirSync(path.join(dir, 'public', 'assets'), { recursive: true, mode: 0o755 });
  mkdirSync(path.join(dir, 'private'), { recursive: true, mode: 0o755 });
  writeFileSync(path.join(dir, 'public', SMALL_STATIC_PATH.slice(1)), small, { mode: 0o644 });
  writeFileSync(path.join(dir, 'public', ASSET_PATH.slice(1)), asset, { mode: 0o644 });
  writeFileSync(path.join(dir, 'public', `${ASSET_PATH.slice(1)}.gz`), zlib.gzipSync(asset, { level: 9 }), { mode: 0o644 });
  writeFileSync(path.join(dir, 'private', ACCEL_FILE), accel, { mode: 0o644 });
  return dir;
}
