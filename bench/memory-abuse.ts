/**
 * warpdrive's memory under clients that abuse it: slowloris, slow readers, idle
 * connections, large uploads, WebSocket clients that never read. Each scenario
 * runs against a fresh warpdrive (the built CLI, one proxy thread) in front of
 * local upstreams, and reports the resident set size of the warpdrive process
 * (VmRSS from /proc, sampled every 50 ms): before (after one warm-up request),
 * at the peak while the clients push, and after (2 s after they are gone).
 *
 * Run: `node dist/bench/memory-abuse.js [scenario ...] [--cli OTHER/dist/src/cli/main.js]`
 * (default: all scenarios, this build), after `npx tsc -p tsconfig.json`. Bounded: every scenario ends within ~15 s, and
 * every client targets 127.0.0.1. Prints a Markdown table.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const MiB = 1024 * 1024;
/** The CLI measured: this build's, or another (`--cli PATH/dist/src/cli/main.js`, to compare with a branch). */
const cliFlag = process.argv.indexOf('--cli');
const cli = cliFlag >= 0 ? path.resolve(process.argv[cliFlag + 1]!) : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function rss(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

interface Upstreams {
  readonly httpPort: number;
  readonly wsPort: number;
  close(): void;
}

/** /big streams 1 GiB as fast as the socket takes it; /upload swallows the body; anything else is "ok". */
async function startUpstreams(): Promise<Upstreams> {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const server = http.createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let left = 1024 * MiB;
      const pump = (): void => {
        while (left > 0) {
          left -= chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (left = 0));
      pump();
      return;
    }
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (socket) => {
    socket.on('message', (data) => {
      // "flood": send 64 KiB messages as fast as the socket takes them.
      if (data.toString() !== 'flood') return;
      const pump = (): void => {
        while (socket.readyState === 1 && socket.bufferedAmount < 4 * MiB) socket.send(chunk);
        if (socket.readyState === 1) setTimeout(pump, 5);
      };
      pump();
    });
  });
  return {
    httpPort: (server.address() as AddressInfo).port,
    wsPort: (wss.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      server.close();
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}

async function startWarpdrive(upstreams: Upstreams): Promise<{ child: ChildProcess; port: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wd-memory-'));
  const config = path.join(dir, 'warpdrive.toml');
  writeFileSync(
    config,
    `[server]\nhttp_port = 0\nbind_address = "127.0.0.1"\nshutdown_timeout_secs = 1\n\n` +
      `[upstreams.app]\nhost = "127.0.0.1"\nport = ${upstreams.httpPort}\n\n[upstreams.ws]\nhost = "127.0.0.1"\nport = ${upstreams.wsPort}\n\n` +
      `[[routes]]\npath_prefix = "/ws"\nupstream = "ws"\n\n[[routes]]\npath_prefix = "/"\nupstream = "app"\n`,
  );
  const child = spawn(process.execPath, [cli, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WARPDRIVE_LOG_LEVEL: 'warn' } });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warpdrive did not start:\n${output}`)), 15_000);
    child.stderr!.on('data', (data: Buffer) => {
      output += data.toString();
    });
    // At warn level the listening line is not printed: find the port from /proc instead.
    const poll = setInterval(() => {
      const port = listeningPort(child.pid!);
      if (port !== undefined) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(port);
      }
    }, 50);
  });
  return { child, port };
}

/** The TCP port `pid` listens on (IPv4), from /proc. */
function listeningPort(pid: number): number | undefined {
  let rows: string[][];
  try {
    rows = readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1).map((line) => line.trim().split(/\s+/));
  } catch {
    return undefined;
  }
  const fds = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) fds.add(m[1]!);
    }
  } catch {
    return undefined;
  }
  for (const fields of rows) {
    if (fields[3] === '0A' && fds.has(fields[9]!)) return parseInt(fields[1]!.split(':')[1]!, 16);
  }
  return undefined;
}

/** A raw client connection to warpdrive. */
async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

function wsFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!;
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | body.length]), mask, body]);
}

async function openWebSocket(port: number): Promise<net.Socket> {
  const socket = await connect(port);
  socket.write(`GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await once(socket, 'data');
  socket.pause();
  return socket;
}

interface Scenario {
  readonly name: string;
  readonly what: string;
  /** Pushes until done; returns the sockets to close afterwards. */
  run(port: number): Promise<net.Socket[]>;
}

const scenarios: Scenario[] = [
  {
    name: 'slowloris',
    what: '1,000 connections sending one header line every 500 ms for 8 s, never finishing the head',
    async run(port) {
      const sockets = await Promise.all(Array.from({ length: 1000 }, () => connect(port)));
      for (const s of sockets) s.write('GET / HTTP/1.1\r\nHost: x\r\n');
      for (let i = 0; i < 16; i++) {
        await sleep(500);
        for (const s of sockets) if (!s.destroyed) s.write(`X-Slow-${i}: ${'v'.repeat(20)}\r\n`);
      }
      return sockets;
    },
  },
  {
    name: 'slow readers',
    what: '50 clients asking for a 1 GiB download and reading nothing, for 8 s',
    async run(port) {
      const sockets = await Promise.all(Array.from({ length: 50 }, () => connect(port)));
      for (const s of sockets) {
        s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
        s.pause();
      }
      await sleep(8_000);
      return sockets;
    },
  },
  {
    name: 'idle connections',
    what: '3,000 connections opened and left idle for 5 s',
    async run(port) {
      const sockets: net.Socket[] = [];
      for (let i = 0; i < 30; i++) sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => connect(port)))));
      await sleep(5_000);
      return sockets;
    },
  },
  {
    name: 'large uploads',
    what: '4 clients each uploading 256 MiB (Content-Length) as fast as they can',
    async run(port) {
      const size = 256 * MiB;
      const chunk = Buffer.alloc(256 * 1024, 1);
      const sockets = await Promise.all(Array.from({ length: 4 }, () => connect(port)));
      await Promise.all(
        sockets.map(async (s) => {
          s.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
          for (let sent = 0; sent < size; sent += chunk.length) if (!s.write(chunk)) await once(s, 'drain');
          await Promise.race([once(s, 'data'), sleep(10_000)]);
        }),
      );
      return sockets;
    },
  },
  {
    name: 'WebSocket non-readers',
    what: '10 clients sending pings without reading, then 60 asking the upstream for a flood without reading, 8 s',
    async run(port) {
      const pings = Buffer.concat(Array.from({ length: 500 }, () => wsFrame(0x9, Buffer.alloc(125, 1))));
      const pingers = await Promise.all(Array.from({ length: 10 }, () => openWebSocket(port)));
      for (const s of pingers) {
        const pump = (): void => {
          while (!s.destroyed && s.write(pings));
        };
        s.on('drain', pump);
        pump();
      }
      const flooded = await Promise.all(Array.from({ length: 60 }, () => openWebSocket(port)));
      for (const s of flooded) s.write(wsFrame(0x1, Buffer.from('flood')));
      await sleep(8_000);
      return [...pingers, ...flooded];
    },
  },
];

/** True when a normal request gets 200 within 2 s. */
async function answers(port: number): Promise<boolean> {
  const socket = await connect(port);
  socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const first = await Promise.race([once(socket, 'data').then(([data]) => String(data)), sleep(2_000).then(() => '')]);
  socket.destroy();
  return first.startsWith('HTTP/1.1 200');
}

async function measure(scenario: Scenario): Promise<string> {
  const upstreams = await startUpstreams();
  const wd = await startWarpdrive(upstreams);
  const pid = wd.child.pid!;
  try {
    if (!(await answers(wd.port))) throw new Error('warpdrive does not answer before the scenario');
    await sleep(500);
    const before = rss(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss(pid))), 50);
    const sockets = await scenario.run(wd.port);
    peak = Math.max(peak, rss(pid));
    for (const s of sockets) s.destroy();
    await sleep(2_000);
    clearInterval(sampler);
    const after = rss(pid);
    const serving = wd.child.exitCode === null && (await answers(wd.port));
    return `| ${scenario.name} | ${scenario.what} | ${(before / MiB).toFixed(1)} | ${(peak / MiB).toFixed(1)} | ${(after / MiB).toFixed(1)} | ${serving ? 'yes' : 'NO'} |`;
  } finally {
    wd.child.kill('SIGTERM');
    await once(wd.child, 'exit');
    upstreams.close();
  }
}

const wanted = process.argv.slice(2).filter((arg, i, all) => arg !== '--cli' && all[i - 1] !== '--cli');
const chosen = wanted.length === 0 ? scenarios : scenarios.filter((s) => wanted.includes(s.name));
process.stdout.write('| scenario | clients | RSS before (MiB) | peak | after | still serving |\n|---|---|---:|---:|---:|---|\n');
for (const scenario of chosen) process.stdout.write(`${await measure(scenario)}\n`);
