import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasListToken } from '../../src/http/list-tokens.js';

test('hasListToken finds whole elements, ignoring case, spaces and arguments', () => {
  const yes: [string, string][] = [
    ['no-transform', 'no-transform'],
    ['public, No-Transform', 'no-transform'],
    ['max-age=0,no-transform ', 'no-transform'],
    ['Cookie,  Accept-Encoding', 'accept-encoding'],
    ['*', '*'],
    ['max-age=60', 'max-age'],
    ['a , b ,c', 'b'],
  ];
  const no: [string, string][] = [
    ['no-transforms', 'no-transform'],
    ['x-no-transform', 'no-transform'],
    ['public', 'no-transform'],
    ['', 'no-transform'],
    ['accept-encodingx, cookie', 'accept-encoding'],
    ['no-transform-x', 'no-transform'],
    ['no transform', 'no-transform'],
  ];
  for (const [value, token] of yes) assert.equal(hasListToken(value, token), true, `${value} has ${token}`);
  for (const [value, token] of no) assert.equal(hasListToken(value, token), false, `${value} lacks ${token}`);
});
