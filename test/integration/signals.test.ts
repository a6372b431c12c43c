/**
 * Signals a running warpdrive may receive by mistake or from tooling (logrotate's
 * SIGUSR1, a terminal's SIGWINCH, a stray SIGALRM): none may end it or open a
 * debugger port; SIGHUP reloads; SIGTERM, SIGINT and SIGQUIT stop it gracefully.
 * Checked from outside, as an operator would: the process is alive, still serves,
 * and the kernel lists no listening socket of it on the inspector's port 9229.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants as osConstants } from 'node:os';
import { request } from 'undici';
import { isAlive, listeningPorts, waitFor } from '../helpers/proc.js';
import { echoHandler, startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { singleUpstreamConfig, startWarpdrive, type RunningWarpdrive } from '../helpers/warpdrive.js';

const bounded = { timeout: 30_000 };
const INSPECTOR_PORT = 9229;

describe('signals warpdrive does not use never end it', bounded, () => {
  let upstream: TestUpstream;
  let wd: RunningWarpdrive;

  before(async () => {
    upstream = await startUpstream(echoHandler());
    wd = await startWarpdrive(singleUpstreamConfig(upstream.toml));
  });
  after(async () => {
    await wd?.stop();
    await upstream?.close();
  });

  /** Sends `signal`, then SIGUSR2 and waits for its log line: by then the first signal has been handled too. */
  async function sendAndSettle(signal: NodeJS.Signals): Promise<void> {
    const marks = (wd.output().match(/SIGUSR2 received and ignored/g) ?? []).length;
    wd.child.kill(signal);
    wd.child.kill('SIGUSR2');
    await waitFor(() => (wd.output().match(/SIGUSR2 received and ignored/g) ?? []).length > marks, 5_000, () => wd.output());
  }

  test('SIGUSR1 is logged and does not open the Node inspector', bounded, async () => {
    wd.child.kill('SIGUSR1');
    await waitFor(() => wd.output().includes('SIGUSR1 received'), 5_000, () => wd.output());
    assert.ok(!listeningPorts(wd.child.pid!).includes(INSPECTOR_PORT), 'no inspector socket of this process on 9229');
    assert.doesNotMatch(wd.output(), /Debugger listening/);
    assert.equal((await request(`${wd.url}/`)).statusCode, 200);
  });

  test('SIGHUP reloads the configuration and the process goes on serving', bounded, async () => {
    wd.child.kill('SIGHUP');
    await waitFor(() => wd.output().includes('SIGHUP received: reloaded'), 5_000, () => wd.output());
    assert.equal((await request(`${wd.url}/`)).statusCode, 200);
  });

  const silentOrLogged: NodeJS.Signals[] = (['SIGUSR2', 'SIGPIPE', 'SIGWINCH', 'SIGALRM', 'SIGVTALRM', 'SIGIO', 'SIGPWR'] as const).filter(
    (name) => name in osConstants.signals,
  );
  for (const signal of silentOrLogged) {
    test(`${signal} leaves warpdrive running and serving`, bounded, async () => {
      await sendAndSettle(signal);
      assert.ok(isAlive(wd.child.pid!), `${signal} ended the process:\n${wd.output()}`);
      assert.equal((await request(`${wd.url}/`)).statusCode, 200);
    });
  }

  test('after all of them: still one listening port, never the inspector\'s', bounded, async () => {
    assert.deepEqual(listeningPorts(wd.child.pid!), [wd.port]);
    assert.equal(await wd.stop('SIGTERM'), 0);
  });
});

describe('SIGQUIT stops gracefully, like SIGTERM', bounded, () => {
  test('exit 0 with the stop sequence logged', bounded, async () => {
    const upstream = await startUpstream(echoHandler());
    const wd = await startWarpdrive(singleUpstreamConfig(upstream.toml));
    try {
      assert.equal(await wd.stop('SIGQUIT'), 0);
      assert.match(wd.output(), /SIGQUIT received: no longer accepting connections/);
      assert.match(wd.output(), /stopped/);
    } finally {
      await upstream.close();
    }
  });
});
