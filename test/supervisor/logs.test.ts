/**
 * Child output reaches warpdrive's stderr line by line, prefixed with unit and
 * stream, never cut or interleaved; and a chatty child facing a stalled stderr
 * blocks neither itself nor the main thread (the worker drops and counts).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from '../helpers/upstream.js';
import { SupervisorClient } from '../../src/supervisor/client.js';
import { EventLog, childProcess, freePort, instance, planOf, survivorsAfter, tcp, upstream, liveGroupMembers } from './helpers.js';
import type { RuntimePlan } from '../../src/config/types.js';

const clientModule = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/supervisor/client.js')).href;

/** Prints `SETTLED <states>` on stdout once ready, then `TICK` every 20 ms from the main thread. */
const parentSource = `
import { readFileSync } from 'node:fs';
import { SupervisorClient } from ${JSON.stringify(clientModule)};
const raw = JSON.parse(readFileSync(process.env.PLAN_FILE, 'utf8'));
const plan = { ...raw, upstreams: new Map(raw.upstreams.map((u) => [u.name, u])) };
const client = SupervisorClient.start(plan, { logEvents: false, statsIntervalMs: 0 });
await client.whenSettled();
process.stdout.write('SETTLED ' + JSON.stringify(client.states()) + '\\n');
let tick = 0;
setInterval(() => process.stdout.write('TICK ' + (tick++) + '\\n'), 20);
process.on('SIGUSR2', () => void client.stop().then(() => process.stdout.write('STOPPED ' + JSON.stringify(client.states()) + '\\n')));
`;

/** A child that writes `lines` lines of `prefix-i-<payload>` to stdout and stderr in fragments, then listens. */
function chattyScript(port: number, prefix: string, lines: number, payloadBytes: number, doneFile: string): string {
  return `
    const { writeFileSync } = require('node:fs');
    const payload = 'p'.repeat(${payloadBytes});
    let i = 0;
    function burst() {
      // Fragmented writes: a line's pieces arrive in separate chunks more often than not.
      for (let n = 0; n < 200 && i < ${lines}; n++, i++) {
        const stream = i % 2 === 0 ? process.stdout : process.stderr;
        stream.write('${prefix}-' + i + '-');
        stream.write(payload.slice(0, 7));
        stream.write(payload.slice(7) + '\\n');
      }
      if (i < ${lines}) setImmediate(burst);
      else { writeFileSync(${JSON.stringify(doneFile)}, 'done'); require('node:http').createServer((q, s) => s.end()).listen(${port}, '127.0.0.1'); }
    }
    burst();
    process.on('SIGTERM', () => process.exit(0));
  `;
}

function startParent(plan: RuntimePlan, readStderr: boolean) {
  const dir = tempDir('wd-sup-logs-');
  const planFile = path.join(dir, 'plan.json');
  writeFileSync(planFile, JSON.stringify({ ...plan, upstreams: [...plan.upstreams.values()] }));
  const parentFile = path.join(dir, 'parent.mjs');
  writeFileSync(parentFile, parentSource);
  const parent = spawn(process.execPath, [parentFile], { env: { ...process.env, PLAN_FILE: planFile, WARPDRIVE_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  parent.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  // Not reading stderr leaves its pipe to fill up and stall: the point of the second test.
  if (readStderr) parent.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise((resolve) => parent.once('exit', resolve));
  const waitStdout = async (pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(stdout);
      if (match) return match;
      if (Date.now() > deadline || parent.exitCode !== null) throw new Error(`parent stdout never matched ${pattern}; stdout: ${stdout.slice(-500)}; stderr: ${stderr.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { parent, exited, waitStdout, stderr: () => stderr, stdout: () => stdout };
}

test('child output lines are prefixed with unit and stream and never interleave', async () => {
  const dir = tempDir('wd-sup-');
  const [portA, portB] = [await freePort(), await freePort()];
  const lines = 2_000;
  const plan = planOf(
    [
      upstream('alpha', [instance('alpha#0', tcp(portA))], childProcess({}, { args: ['-e', chattyScript(portA, 'alpha', lines, 120, path.join(dir, 'a'))] })),
      upstream('beta', [instance('beta#0', tcp(portB))], childProcess({}, { args: ['-e', chattyScript(portB, 'beta', lines, 120, path.join(dir, 'b'))] })),
    ],
    ['alpha', 'beta'],
  );
  const run = startParent(plan, true);
  try {
    const settled = await run.waitStdout(/SETTLED (.*)\n/, 30_000);
    const pids = (JSON.parse(settled[1]!) as Array<{ pid: number }>).map((s) => s.pid);
    // Every line of both children arrives (the children finished writing before listening).
    const expected = 2 * lines;
    const deadline = Date.now() + 20_000;
    const childLine = /^\d{4}-\d\d-\d\dT[\d:.]+Z info {2}\[(alpha|beta) (stdout|stderr)\] (\w+)-(\d+)-(p+)$/;
    let matched: RegExpExecArray[] = [];
    while (Date.now() < deadline) {
      matched = run.stderr().split('\n').map((l) => childLine.exec(l)).filter((m): m is RegExpExecArray => m !== null);
      if (matched.length >= expected) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const ours = run.stderr().split('\n').filter((l) => l.includes('[alpha ') || l.includes('[beta '));
    assert.equal(matched.length, ours.length, `malformed lines: ${ours.filter((l) => !childLine.test(l)).slice(0, 3).join('\n')}`);
    assert.equal(matched.length, expected);
    for (const m of matched) {
      assert.equal(m[1], m[3], 'a line carries the wrong unit');
      assert.equal(m[2], Number(m[4]) % 2 === 0 ? 'stdout' : 'stderr', 'a line carries the wrong stream');
      assert.equal(m[5]!.length, 120, 'a line was cut or merged');
    }
    run.parent.kill('SIGKILL');
    await run.exited;
    assert.deepEqual(await survivorsAfter(pids, 10_000), []);
  } finally {
    run.parent.kill('SIGKILL');
  }
});

test('a chatty child with a stalled stderr blocks neither the child nor the main thread', async () => {
  const dir = tempDir('wd-sup-');
  const port = await freePort();
  const doneFile = path.join(dir, 'done');
  // About 30 MB of output against a stderr nobody reads (a pipe holds 64 KiB).
  const plan = planOf([upstream('chatty', [instance('chatty#0', tcp(port))], childProcess({}, { args: ['-e', chattyScript(port, 'chatty', 200_000, 140, doneFile)], startTimeoutMs: 60_000 }))], ['chatty']);
  const run = startParent(plan, false);
  try {
    const settled = await run.waitStdout(/SETTLED (.*)\n/, 60_000);
    const states = JSON.parse(settled[1]!) as Array<{ pid: number; state: string }>;
    assert.equal(states[0]!.state, 'ready', 'the child did not get to listen');
    assert.ok(existsSync(doneFile), 'the child finished all its writes');
    // The main thread keeps ticking while stderr is stalled.
    const before = Number((await run.waitStdout(/TICK (\d+)\n/, 5_000))[1]);
    await run.waitStdout(new RegExp(`TICK ${before + 10}\\n`), 10_000);
    const members = liveGroupMembers(states.map((s) => s.pid));
    // A graceful stop still completes although stderr never drains.
    run.parent.kill('SIGUSR2');
    const stopped = await run.waitStdout(/STOPPED (.*)\n/, 30_000);
    assert.deepEqual((JSON.parse(stopped[1]!) as Array<{ state: string }>).map((s) => s.state), ['stopped']);
    assert.deepEqual(await survivorsAfter(members, 10_000), []);
  } finally {
    run.parent.kill('SIGKILL');
  }
});

test('log events reach subscribers when forwarding is on', async () => {
  const port = await freePort();
  const plan = planOf([upstream('talker', [instance('talker#0', tcp(port))], childProcess({ NAME: 'talker', LISTEN: String(port), PRINT: 'hello from talker' }))], ['talker']);
  const client = SupervisorClient.start(plan, { logToStderr: false, logEvents: false, statsIntervalMs: 0, forwardLogs: true });
  const events = new EventLog(client);
  try {
    const hello = await events.waitFor((e) => e.type === 'log' && e.line === 'hello from talker');
    assert.deepEqual(hello.event, { type: 'log', unit: 'talker', stream: 'stdout', line: 'hello from talker' });
  } finally {
    await client.stop();
  }
});
