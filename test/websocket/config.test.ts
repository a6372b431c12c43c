/**
 * The two WebSocket keys of `[server]`: defaults, conversion, and clear errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { catchConfigError } from '../config/fixtures.js';

const rest = '[upstreams.app]\nhost = "127.0.0.1"\nport = 3000\n[[routes]]\nupstream = "app"\n';

describe('[server] websocket keys', () => {
  it('default to 16 MiB messages and a 120 s idle timeout', () => {
    const plan = parseConfig(rest, 'min.toml');
    assert.equal(plan.server.websocketMaxMessageBytes, 16 * 1024 * 1024);
    assert.equal(plan.server.websocketIdleTimeoutSecs, 120);
  });

  it('take configured values, 0 switching the idle timeout off', () => {
    const plan = parseConfig(`[server]\nwebsocket_max_message_bytes = 1048576\nwebsocket_idle_timeout_secs = 0\n${rest}`, 'ws.toml');
    assert.equal(plan.server.websocketMaxMessageBytes, 1048576);
    assert.equal(plan.server.websocketIdleTimeoutSecs, 0);
  });

  it('reject values uWS cannot honour, saying what is allowed', () => {
    for (const [line, hint] of [
      ['websocket_idle_timeout_secs = 5', '0 (off) or 8-960'],
      ['websocket_idle_timeout_secs = 12.5', '0 (off) or 8-960'],
      ['websocket_idle_timeout_secs = 1000', '0 (off) or 8-960'],
      ['websocket_max_message_bytes = 10', '1024-1073741824'],
    ]) {
      const error = catchConfigError(() => parseConfig(`[server]\n${line}\n${rest}`, 'bad.toml'));
      assert.match(error.message, new RegExp(hint!.replace(/[()]/g, '\\$&')), line);
      assert.match(error.message, new RegExp(line!.split(' ')[0]!), line);
    }
  });
});
