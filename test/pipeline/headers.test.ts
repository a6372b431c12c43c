/**
 * The response-header rules decided on raw bytes (no string is made of a header
 * on its way to the client), against the list of names they stand for.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decimalValue, droppedResponseHeaders, ResponseHeaderAction, responseHeaderAction } from '../../src/pipeline/headers.js';

const action = (name: string): ResponseHeaderAction => responseHeaderAction(Buffer.from(name, 'latin1'));

describe('responseHeaderAction', () => {
  test('every dropped name is dropped in any case; content-length and connection are singled out', () => {
    const singled: Record<string, ResponseHeaderAction> = { 'content-length': ResponseHeaderAction.ContentLength, connection: ResponseHeaderAction.Connection };
    for (const name of droppedResponseHeaders) {
      const expected = singled[name] ?? ResponseHeaderAction.Drop;
      assert.equal(action(name), expected, name);
      assert.equal(action(name.toUpperCase()), expected, name.toUpperCase());
      assert.equal(action(name.replace(/(^|-)./g, (m) => m.toUpperCase())), expected, `${name} capitalised`);
    }
  });

  test('names of the same length as a dropped one are forwarded', () => {
    for (const name of ['etag', 'vary', 'set-cookie', 'x-trailer', 'x-', 'tf', 'content-type', 'x-upgrade', 'accept-ranges', 'content-language', 'content-encoding']) {
      assert.equal(action(name), ResponseHeaderAction.Forward, name);
    }
  });

  test('token characters other than the letter itself never match it', () => {
    // Folding with | 0x20 maps '@' to '`', '^' to '~', '_' to DEL, '%' to '%': none is a
    // letter or '-'. (Only CR would fold onto '-', and llhttp refuses CR in a name.)
    for (const name of ['d@te', 'dat^', 'dat_', 't%', 'te_', 'keep.alive', 'keep_alive', 'content~length']) {
      assert.equal(action(name), ResponseHeaderAction.Forward, name);
    }
  });
});

describe('decimalValue', () => {
  test('reads plain decimal numbers', () => {
    for (const n of [0, 7, 30, 1024, 1_073_741_824, 999_999_999_999_999]) assert.equal(decimalValue(Buffer.from(String(n))), n);
  });

  test('anything else is -1', () => {
    for (const text of ['', ' 1', '1 ', '-1', '+1', '1e3', '0x10', '12a', '1234567890123456']) assert.equal(decimalValue(Buffer.from(text)), -1, JSON.stringify(text));
  });
});
