/**
 * Loads uWebSockets.js, refusing to run on its pure-JS fallback.
 *
 * The npm republish we depend on (see native-notes/) catches a failed load of its
 * native binary and silently returns a slow Node.js emulation instead. A front door
 * running on that would be a fraction as fast and behave differently, so we detect
 * it (no `.node` binary in the require cache) and stop with instructions.
 *
 * Loading is lazy (a function, not a top-level import) so that the CLI's `check`
 * and `routes` commands work even where the native binary cannot load.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type * as UwsTypes from 'uWebSockets.js';

export type Uws = typeof UwsTypes;

export class NativeBindingError extends Error {
  readonly code = 'WD_ERR_UWS_NATIVE';
}

const require = createRequire(import.meta.url);
let loaded: Uws | undefined;

function nativeBinaryLoaded(): boolean {
  return Object.keys(require.cache).some((file) => /[\\/]uws_[a-z0-9_]+\.node$/.test(file));
}

/** The native uWebSockets.js module; throws NativeBindingError when only the fallback loads. */
export function loadUws(): Uws {
  if (loaded) return loaded;
  // The fallback announces itself with console.warn; keep that out of our log and
  // report the cause ourselves.
  const warn = console.warn;
  const log = console.log;
  let fallbackSaid = '';
  console.warn = console.log = (...args: unknown[]) => {
    fallbackSaid += args.map(String).join(' ') + '\n';
  };
  let uws: Uws;
  try {
    uws = require('uWebSockets.js') as Uws;
  } finally {
    console.warn = warn;
    console.log = log;
  }
  if (!nativeBinaryLoaded()) {
    const abi = process.versions.modules;
    const forced = process.env.UWS_USE_FALLBACK;
    if (forced !== undefined && /^(1|true)$/i.test(forced)) {
      throw new NativeBindingError(
        `UWS_USE_FALLBACK=${forced} is set, which makes uWebSockets.js use its slow pure-JS fallback; ` +
          `warpdrive will not run on it. Fix: unset UWS_USE_FALLBACK.`,
      );
    }
    throw new NativeBindingError(
      `uWebSockets.js could not load its native binary for Node.js ${process.version} ` +
        `(ABI ${abi}, ${process.platform}-${process.arch}); warpdrive will not run on the slow pure-JS fallback. ` +
        `The bundled build has binaries for ABI 93, 108 and 115 (Node.js 16, 18, 20) on linux/darwin x64/arm64 and needs glibc 2.27 or newer. ` +
        `Fix: run warpdrive on Node.js 20, or install a uWebSockets.js build that matches this Node.js (see native-notes/README.md). ` +
        (fallbackSaid ? `Loader said: ${fallbackSaid.trim().split('\n').slice(0, 3).join(' ')}` : ''),
    );
  }
  loaded = uws;
  return uws;
}
