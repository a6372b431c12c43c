/**
 * The supervisor driven by a real config (TOML through parseConfig), with
 * upstream-level and instance-level processes, depends_on and a Unix socket.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { SupervisorClient } from '../../src/supervisor/client.js';
import { tempDir } from '../helpers/upstream.js';
import { EventLog, childScript, firstRecord, freePort, readRecord, recordFile, survivorsAfter } from './helpers.js';

test('a TOML fleet starts in processOrder, instance-level units one per instance, and stops dependents first', async () => {
  const dir = tempDir('wd-sup-conf-');
  const record = recordFile();
  const dbSocket = path.join(dir, 'db.sock');
  const [web0, web1] = [await freePort(), await freePort()];
  const node = JSON.stringify(process.execPath);
  const script = JSON.stringify(childScript());
  const toml = `
[upstreams.db]
socket = ${JSON.stringify(dbSocket)}
process.command = ${node}
process.args = [${script}]
process.env = { NAME = "db", LISTEN = ${JSON.stringify(dbSocket)}, RECORD = ${JSON.stringify(record)}, LISTEN_DELAY_MS = "200" }
process.stop_timeout_secs = 2

[upstreams.web]
[[upstreams.web.instances]]
host = "127.0.0.1"
port = ${web0}
process.command = ${node}
process.args = [${script}]
process.env = { NAME = "web0", LISTEN = "${web0}", RECORD = ${JSON.stringify(record)}, CONNECT_TO = ${JSON.stringify(dbSocket)} }
process.depends_on = ["db"]

[[upstreams.web.instances]]
host = "127.0.0.1"
port = ${web1}
process.command = ${node}
process.args = [${script}]
process.env = { NAME = "web1", LISTEN = "${web1}", RECORD = ${JSON.stringify(record)}, CONNECT_TO = ${JSON.stringify(dbSocket)} }
process.depends_on = ["db"]

[[routes]]
path_prefix = "/"
upstream = "web"
`;
  const plan = parseConfig(toml, path.join(dir, 'warpdrive.toml'));
  assert.deepEqual(plan.processOrder, ['db', 'web#0', 'web#1']);
  const client = SupervisorClient.start(plan, { logToStderr: false, logEvents: false, statsIntervalMs: 0 });
  const events = new EventLog(client);
  try {
    await client.whenSettled();
    assert.deepEqual(client.states().map((s) => [s.unit, s.state, s.instanceIds]), [
      ['db', 'ready', ['db#0']],
      ['web#0', 'ready', ['web#0']],
      ['web#1', 'ready', ['web#1']],
    ]);
    const records = readRecord(record);
    for (const web of ['web0', 'web1']) {
      assert.ok(firstRecord(records, 'db', 'listening').at < firstRecord(records, web, 'spawn').at);
      firstRecord(records, web, 'dependency-reachable');
    }
    // Sibling instance-level units restart independently.
    client.restart('web#0');
    await events.waitFor((e) => e.type === 'ready' && e.unit === 'web#0' && events.of('ready', 'web#0').length === 2);
    assert.equal(events.of('stopping', 'web#1').length, 0, 'restarting web#0 touched web#1');
    const pids = client.states().map((s) => s.pid!);
    await client.stop();
    const after = readRecord(record);
    const lastWebExit = [...after].reverse().find((r) => r.name.startsWith('web') && r.event === 'exit')!;
    assert.ok(lastWebExit.at < firstRecord(after, 'db', 'term').at);
    assert.deepEqual(await survivorsAfter(pids, 0), []);
  } finally {
    await client.stop();
  }
});
