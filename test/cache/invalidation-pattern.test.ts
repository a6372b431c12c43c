/**
 * The invalidation grammar shared by NOTIFY payloads and `warpdrive purge`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatInvalidation, InvalidationSyntaxError, matchesInvalidation, parseInvalidation } from '../../src/cache/invalidation-pattern.js';

const target = (host: string, path: string, query = '', tags: string[] = []) => ({ host, path, query, tags });

function matches(pattern: string, t: ReturnType<typeof target>): boolean {
  const [parsed] = parseInvalidation(pattern);
  return matchesInvalidation(parsed!, t);
}

describe('invalidation patterns', () => {
  it('* matches everything', () => {
    assert.ok(matches('*', target('a.com', '/x', 'q=1', ['t'])));
  });

  it('a path matches that path on any host and with any query; a path with a query matches exactly', () => {
    assert.ok(matches('/posts/42', target('a.com', '/posts/42')));
    assert.ok(matches('/posts/42', target('b.com', '/posts/42', 'page=2')));
    assert.ok(!matches('/posts/42', target('a.com', '/posts/421')));
    assert.ok(!matches('/posts/42', target('a.com', '/posts/42/comments')));
    assert.ok(matches('/posts/42?page=2', target('a.com', '/posts/42', 'page=2')));
    assert.ok(!matches('/posts/42?page=2', target('a.com', '/posts/42', 'page=3')));
  });

  it('a prefix matches paths starting with it', () => {
    assert.ok(matches('/posts/*', target('a.com', '/posts/42')));
    assert.ok(matches('/posts/*', target('a.com', '/posts/')));
    assert.ok(!matches('/posts/*', target('a.com', '/posts')));
    assert.ok(matches('/*', target('a.com', '/anything')));
  });

  it('a URL limits a path or prefix to its host (any scheme, no port, any case)', () => {
    assert.ok(matches('https://Example.COM:8443/posts/42', target('example.com', '/posts/42')));
    assert.ok(!matches('http://example.com/posts/42', target('other.com', '/posts/42')));
    assert.ok(matches('http://example.com/posts/*', target('example.com', '/posts/1')));
    assert.ok(matches('http://example.com', target('example.com', '/')));
  });

  it('a tag matches Cache-Tag / Surrogate-Key values exactly', () => {
    assert.ok(matches('tag:post-42', target('a.com', '/x', '', ['post-42', 'posts'])));
    assert.ok(!matches('tag:post-4', target('a.com', '/x', '', ['post-42'])));
  });

  it('a payload may hold several patterns separated by whitespace', () => {
    assert.deepEqual(parseInvalidation(' /a\n tag:b\t* ').map(formatInvalidation), ['/a', 'tag:b', '*']);
  });

  it('refuses what it cannot read, saying what is expected', () => {
    for (const bad of ['', 'posts/42', 'tag:', '/a*b', '/a?*', 'ftp://x/y', 'https:///x', 'http://user@h/x']) {
      assert.throws(() => parseInvalidation(bad), InvalidationSyntaxError, bad);
    }
    assert.throws(() => parseInvalidation('posts/42'), /expected \*, a path starting with "\/"/);
  });

  it('formats back to the same grammar, host-qualified when it had a host', () => {
    for (const text of ['*', 'tag:x', '/a', '/a?b=1', '/a/*', 'http://h.com/a', 'http://h.com/a/*']) {
      assert.equal(formatInvalidation(parseInvalidation(text)[0]!), text);
    }
  });
});
