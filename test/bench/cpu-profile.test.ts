import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeFrame, flameTree, mainThreadProfile, topFunctions, type CpuProfile } from '../../bench/lib/cpu-profile.js';
import { renderFlameGraph } from '../../bench/report/flame-graph.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });

// root -> idle(50); root -> handle(10) -> parse(30), handle -> write(20); root -> other handle copy(5)
const PROFILE: CpuProfile = {
  startTime: 0,
  endTime: 1,
  nodes: [
    { id: 1, callFrame: frame('(root)'), hitCount: 0, children: [2, 3, 6] },
    { id: 2, callFrame: frame('(idle)'), hitCount: 50 },
    { id: 3, callFrame: frame('handle', 'file:///work/main/dist/src/proxy/proxy.js', 9), hitCount: 10, children: [4, 5] },
    { id: 4, callFrame: frame('parse', 'file:///work/main/node_modules/undici/lib/core/util.js', 99), hitCount: 30 },
    { id: 5, callFrame: frame('write', 'node:net', 0), hitCount: 20 },
    { id: 6, callFrame: frame('handle', 'file:///work/main/dist/src/proxy/proxy.js', 9), hitCount: 5 },
  ],
};

test('frames are named by function and a short file:line', () => {
  assert.equal(describeFrame(frame('f', 'file:///work/main/dist/src/proxy/session.js', 192)), 'f (src/proxy/session.js:193)');
  assert.equal(describeFrame(frame('g', 'file:///x/node_modules/undici/lib/a.js', 0)), 'g (undici/lib/a.js:1)');
  assert.equal(describeFrame(frame('', '')), '(anonymous)');
});

test('top functions add up self time of the same function across call paths, idle excluded', () => {
  const top = topFunctions(PROFILE, 10);
  assert.equal(top.idleSamples, 50);
  assert.equal(top.busySamples, 65);
  assert.deepEqual(top.functions.map((f) => [f.name, f.selfSamples]), [
    ['parse (undici/lib/core/util.js:100)', 30],
    ['write (node:net:1)', 20],
    ['handle (src/proxy/proxy.js:10)', 15],
  ]);
  assert.equal(Math.round(top.functions[0]!.selfPercent), 46);
});

test('the flame tree carries totals without idle', () => {
  const root = flameTree(PROFILE);
  assert.equal(root.total, 65);
  assert.deepEqual(root.children.map((c) => [c.name, c.total]), [
    ['handle (src/proxy/proxy.js:10)', 60],
    ['handle (src/proxy/proxy.js:10)', 5],
  ]);
  const svg = renderFlameGraph(root, 'test <profile>');
  assert.match(svg, /test &lt;profile&gt;/);
  assert.match(svg, /<title>parse \(undici\/lib\/core\/util\.js:100\): 46\.2% \(30 samples\)<\/title>/);
});

test('the main thread profile is the one for thread 0', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'wd-prof-'));
  writeFileSync(path.join(dir, 'CPU.20261128.022200.123.1.002.cpuprofile'), '{}');
  writeFileSync(path.join(dir, 'CPU.20261128.022200.123.0.001.cpuprofile'), '{}');
  assert.equal(mainThreadProfile(dir), path.join(dir, 'CPU.20261128.022200.123.0.001.cpuprofile'));
  assert.equal(mainThreadProfile(path.join(dir, 'missing')), undefined);
});
