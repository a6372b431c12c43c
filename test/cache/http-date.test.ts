/**
 * HTTP dates: the three forms RFC 9110 5.6.7 requires recipients to accept, and
 * the invalid ones RFC 9111 5.3 says mean "already expired".
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseHttpDate } from '../../src/cache/http-date.js';
import { formatHttpDate } from '../helpers/http-date.js';

const nov6 = Date.UTC(1994, 10, 6, 8, 49, 37);

describe('parseHttpDate', () => {
  it('reads IMF-fixdate, RFC 850 and asctime', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), nov6);
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), nov6);
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), nov6);
  });

  it('ignores the case of names', () => {
    assert.equal(parseHttpDate('SUN, 06 NOV 1994 08:49:37 gmt'), nov6);
  });

  it('refuses what the grammar does not allow', () => {
    for (const bad of [
      '0',
      '',
      'Thu, 18 Aug 2050 02:01:18 UTC',
      'Thu, 18 Aug 50 02:01:18 GMT',
      'Thu 18 Aug 2050 02:01:18 GMT',
      'Thu, 18  Aug  2050 02:01:18 GMT',
      'Thu, 18-Aug-2050 02:01:18 GMT',
      'Thu, 18 Aug 2050 02.01.18 GMT',
      'Thu, 18 Aug 2050 2:01:18 GMT',
      'Thu, 31 Feb 2050 02:01:18 GMT',
      'Xyz, 18 Aug 2050 02:01:18 GMT',
      '2050-08-18T02:01:18Z',
    ]) {
      assert.ok(Number.isNaN(parseHttpDate(bad)), bad);
    }
  });

  it('round-trips what formatHttpDate writes', () => {
    const now = Math.floor(Date.now() / 1000) * 1000;
    assert.equal(parseHttpDate(formatHttpDate(now)), now);
  });
});
