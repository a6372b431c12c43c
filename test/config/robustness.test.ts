/**
 * "Never crash on input": whatever the document, parseConfig returns a plan or
 * throws a ConfigError whose every issue has a message; nothing else escapes.
 * Property-based, over mutations of a valid document and over raw text.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse, stringify } from 'smol-toml';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { fixture } from './fixtures.js';

function outcome(text: string): 'plan' | 'config-error' {
  try {
    parseConfig(text, 'fuzz.toml', { WARPDRIVE_ADMIN_TOKEN: 't' });
    return 'plan';
  } catch (error) {
    assert.ok(error instanceof ConfigError, `escaped: ${String(error)}`);
    assert.ok(error.issues.length > 0);
    for (const issue of error.issues) assert.ok(issue.message.length > 0);
    return 'config-error';
  }
}

/** Values TOML can hold. */
const tomlValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string({ maxLength: 12 }),
    fc.integer({ min: -100000, max: 100000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('host', 'port', 'socket', 'path', 'name', 'value', 'x'), tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** Every key path of a parsed document, so a mutation can target any of them. */
function keyPaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object' || value instanceof Date) return [prefix];
  const entries = Array.isArray(value) ? value.map((child, i) => [i, child] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([key, child]) => keyPaths(child, [...prefix, key]))];
}

function setAt(document: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = document;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
}

describe('robustness', () => {
  const seedText = readFileSync(fixture('seed-complete.toml'), 'utf8');
  const seedPaths = keyPaths(parse(seedText)).filter((path) => path.length > 0);

  it('mutating any key of the seed example yields a plan or a ConfigError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...seedPaths), tomlValue, (path, value) => {
        const document = parse(seedText) as Record<string, unknown>;
        setAt(document, path, value);
        let text: string;
        try {
          text = stringify(document);
        } catch {
          return; // not representable as TOML (e.g. mixed array) — nothing to load
        }
        outcome(text);
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary text yields a plan or a ConfigError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        outcome(text);
      }),
      { numRuns: 300 },
    );
  });

  it('one issue per key even when several checks fail', () => {
    let error: ConfigError | undefined;
    try {
      parseConfig('[upstreams.app]\nhost = "127.0.0.1"\nport = 0.5\n[[routes]]\nupstream = "app"\n', 'x.toml');
    } catch (caught) {
      error = caught as ConfigError;
    }
    assert.deepEqual(error?.issues.map((issue) => issue.path), ['upstreams.app.port']);
  });
});
