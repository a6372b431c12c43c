/**
 * Table-driven cases for request path normalisation.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizePath } from '../../src/router/normalize-path.js';

/** [raw path, normalised path or undefined for 400, why] */
const cases: Array<[string, string | undefined, string]> = [
  ['/', '/', 'root'],
  ['/sidekiq/jobs', '/sidekiq/jobs', 'already canonical'],
  ['/public/../sidekiq/jobs', '/sidekiq/jobs', 'dot-dot segment'],
  ['/%73idekiq', '/sidekiq', 'encoded unreserved letter'],
  ['/%73%69dekiq/jobs', '/sidekiq/jobs', 'several encoded letters'],
  ['/a/%2e%2e/b', '/b', 'encoded dot-dot (lowercase)'],
  ['/a/%2E%2E/b', '/b', 'encoded dot-dot (uppercase)'],
  ['/a/.%2e/b', '/b', 'half-encoded dot-dot'],
  ['/a/%2e/b', '/a/b', 'encoded single dot'],
  ['/a/./b', '/a/b', 'single dot'],
  ['/a/b/..', '/a/', 'trailing dot-dot leaves a directory'],
  ['/a/b/.', '/a/b/', 'trailing dot leaves a directory'],
  ['/a/..', '/', 'back to the root'],
  ['/..', '/', 'dot-dot cannot climb above the root'],
  ['/../../etc/passwd', '/etc/passwd', 'repeated climbing stays at the root'],
  ['/.', '/', 'dot at the root'],
  ['//sidekiq', '/sidekiq', 'leading double slash collapses'],
  ['/a//b///c', '/a/b/c', 'inner slash runs collapse'],
  ['/a//', '/a/', 'trailing slash run collapses to one'],
  ['//', '/', 'only slashes'],
  ['/a/b/', '/a/b/', 'trailing slash is kept'],
  ['/a%2Fb', '/a%2Fb', '%2F stays encoded'],
  ['/a%2fb', '/a%2Fb', '%2f stays encoded with uppercase hex'],
  ['/a/%2e%2e%2fb', '/a/..%2Fb', 'an encoded slash does not make a dot-dot segment'],
  ['/x%3a%5b', '/x%3A%5B', 'reserved escapes stay encoded, hex uppercased'],
  ['/caf%c3%a9', '/caf%C3%A9', 'non-ASCII escapes stay encoded, hex uppercased'],
  ['/%7e%2D%5F%2E', '/~-_.', 'unreserved punctuation is decoded'],
  ['/%41%5a%61%7a%30%39', '/AZaz09', 'letters and digits are decoded'],
  ['/a%20b', '/a%20b', 'an encoded space is kept'],
  ['/a b', '/a%20b', 'a raw space is encoded'],
  ['/a|b{c}', '/a%7Cb%7Bc%7D', 'raw characters not allowed in a path are encoded'],
  ['/café', '/caf%C3%A9', 'raw non-ASCII is encoded as UTF-8'],
  ['/😀', '/%F0%9F%98%80', 'astral characters are encoded as UTF-8'],
  ["/a:b@c!$&'()*+,;=", "/a:b@c!$&'()*+,;=", 'sub-delimiters, ":" and "@" are allowed raw'],
  ['/.well-known/acme', '/.well-known/acme', 'a dotfile is not a dot segment'],
  ['/..foo/x', '/..foo/x', 'a name starting with dots is not a dot segment'],
  ['/%', undefined, 'truncated escape'],
  ['/%4', undefined, 'truncated escape (one digit)'],
  ['/%zz', undefined, 'non-hex escape'],
  ['/%4g/x', undefined, 'half-hex escape'],
  ['/a%00b', undefined, 'encoded NUL'],
  ['/a\u0000b', undefined, 'raw NUL'],
  ['/a\nb', undefined, 'raw line feed'],
  ['/a\u007fb', undefined, 'raw DEL'],
  ['/a\\..\\b', undefined, 'backslash'],
  ['/a/%5c', '/a/%5C', 'an encoded backslash is data'],
  ['/\ud800', undefined, 'lone surrogate'],
  ['/sidekiq/..;/admin', undefined, 'servlet-style dot-dot with parameters'],
  ['/.;x', undefined, 'servlet-style dot with parameters'],
  ['', undefined, 'empty'],
  ['sidekiq', undefined, 'relative'],
  ['*', undefined, 'asterisk-form is not a path'],
  ['http://a/b', undefined, 'absolute-form is not a path'],
];

describe('normalizePath', () => {
  for (const [raw, expected, why] of cases) {
    it(`${why}: ${JSON.stringify(raw)} -> ${expected === undefined ? '400' : JSON.stringify(expected)}`, () => {
      assert.equal(normalizePath(raw), expected);
    });
  }

  it('returns the very same string when nothing needs to change', () => {
    const raw = ['/api/v1/users/12', '/x%20y'].map((p) => p.split('').join('')); // fresh strings, not literals
    for (const p of raw) assert.ok(Object.is(normalizePath(p), p));
  });

  it('is idempotent, and its output has no dot segments, empty segments or decodable escapes', () => {
    const unit = fc.constantFrom('/', '.', 'a', 'B', '%2e', '%2E', '%2f', '%41', '%7e', '%3a', ' ', '~', 'é', '..', '%25');
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 12 }), (units) => {
        const once = normalizePath('/' + units.join(''));
        if (once === undefined) return;
        assert.equal(normalizePath(once), once);
        assert.ok(once.startsWith('/'));
        assert.ok(!once.includes('//'), once);
        assert.ok(!/\/\.\.?(\/|$)/.test(once), once);
        assert.ok(!/%(2[dDeE]|5[fF]|7[eE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA])/.test(once), once);
        assert.ok(!/%[0-9A-F]?[a-f]/.test(once), once);
      }),
      { numRuns: 500 },
    );
  });
});
