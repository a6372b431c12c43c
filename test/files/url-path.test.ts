/**
 * What a URL path may name on disk: every traversal and encoding trick is refused,
 * whatever reached this far (the router normalises first, but X-Accel-Redirect
 * URIs come from the upstream and never went through it).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeUrlPathRefusal, filePathFromUrl, UrlPathRefusal } from '../../src/files/url-path.js';

describe('filePathFromUrl', () => {
  const served: [string, string][] = [
    ['/', ''],
    ['/index.html', 'index.html'],
    ['/assets/app-3f2a9c.css', 'assets/app-3f2a9c.css'],
    ['/docs/', 'docs/'],
    ['/caf%C3%A9.txt', 'café.txt'],
    ['/a%20b.txt', 'a b.txt'],
    ['/%252e%252e/x', '%2e%2e/x'], // double encoding: decoded once, taken literally
    ['/a%252fb', 'a%2fb'],
    ['/.well-known/acme-challenge/tok', '.well-known/acme-challenge/tok'],
    ['/a..b/c...', 'a..b/c...'],
    ['/file.', 'file.'],
  ];
  for (const [url, relative] of served) {
    test(`${url} -> ${JSON.stringify(relative)}`, () => assert.equal(filePathFromUrl(url, false), relative));
  }

  const refused: [string, UrlPathRefusal][] = [
    ['/../etc/passwd', UrlPathRefusal.DotSegment],
    ['/assets/../../etc/passwd', UrlPathRefusal.DotSegment],
    ['/..', UrlPathRefusal.DotSegment],
    ['/./x', UrlPathRefusal.DotSegment],
    ['/%2e%2e/etc/passwd', UrlPathRefusal.DotSegment],
    ['/%2E%2E/etc/passwd', UrlPathRefusal.DotSegment],
    ['/.%2e/x', UrlPathRefusal.DotSegment],
    ['/assets/%2e', UrlPathRefusal.DotSegment],
    ['/..%2fetc/passwd', UrlPathRefusal.EncodedSeparator],
    ['/%2e%2e%2fetc%2fpasswd', UrlPathRefusal.EncodedSeparator],
    ['/a%2Fb', UrlPathRefusal.EncodedSeparator],
    ['/a%5cb', UrlPathRefusal.EncodedSeparator],
    ['/a\\..\\b', UrlPathRefusal.Backslash],
    ['/a%00.css', UrlPathRefusal.ControlCharacter],
    ['/a\u0000.css', UrlPathRefusal.ControlCharacter],
    ['/a%0a.css', UrlPathRefusal.ControlCharacter],
    ['/a%7f', UrlPathRefusal.ControlCharacter],
    ['/%zz', UrlPathRefusal.BadEscape],
    ['/%', UrlPathRefusal.BadEscape],
    ['/%C3', UrlPathRefusal.BadEscape],
    ['/%ff%fe', UrlPathRefusal.BadEscape],
    ['/.env', UrlPathRefusal.Hidden],
    ['/.git/config', UrlPathRefusal.Hidden],
    ['/assets/.DS_Store', UrlPathRefusal.Hidden],
    ['/%2egit/config', UrlPathRefusal.Hidden],
    ['/.well-knownx/a', UrlPathRefusal.Hidden],
    ['relative/path', UrlPathRefusal.NotAbsolute],
    ['', UrlPathRefusal.NotAbsolute],
  ];
  for (const [url, reason] of refused) {
    test(`${JSON.stringify(url)} is refused: ${describeUrlPathRefusal(reason)}`, () => assert.equal(filePathFromUrl(url, false), reason));
  }

  test('served dotfiles: hidden segments pass, dot segments never do', () => {
    assert.equal(filePathFromUrl('/.env', true), '.env');
    assert.equal(filePathFromUrl('/.git/config', true), '.git/config');
    assert.equal(filePathFromUrl('/../x', true), UrlPathRefusal.DotSegment);
    assert.equal(filePathFromUrl('/%2e%2e/x', true), UrlPathRefusal.DotSegment);
  });
});
