/**
 * The Node.js peer: the reverse proxy a Node user would otherwise write, with
 * `http-proxy` on `node:http`, one process. It gets the same topology as the
 * other proxies (round-robin over the upstream instances, the same host + path
 * routes, WebSocket pass-through) from the JSON file bench/lib/configs.ts renders.
 *
 * Run: `node dist/bench/node-peer-proxy.js CONFIG.json`; prints
 * `NODE_PEER_READY <port>` once listening.
 *
 * @module
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import httpProxy from 'http-proxy';
import type { NodePeerConfig } from './lib/configs.js';

function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node-peer-proxy.js CONFIG.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as NodePeerConfig;

  // Target objects built once: a string target would be URL-parsed per request.
  const targets = config.upstreamPorts.map((port) => ({ protocol: 'http:', host: '127.0.0.1', port }));
  let next = 0;
  const pickTarget = () => {
    const target = targets[next]!;
    next = next + 1 === targets.length ? 0 : next + 1;
    return target;
  };

  // Host -> prefixes, in table order: the lookup a user would write by hand.
  const routesByHost = new Map<string, string[]>();
  for (const route of config.routes ?? []) {
    const list = routesByHost.get(route.host) ?? [];
    list.push(route.pathPrefix);
    routesByHost.set(route.host, list);
  }
  const isRouted = (req: http.IncomingMessage): boolean => {
    if (config.routes === undefined) return true;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    const prefixes = routesByHost.get(host);
    if (!prefixes) return false;
    const url = req.url ?? '/';
    for (const prefix of prefixes) if (url.startsWith(prefix)) return true;
    return false;
  };

  // A keep-alive agent: without one, http-proxy opens a connection per request.
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 });
  const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
  // http-proxy copies the client's Connection header upstream; a client's
  // "Connection: close" would then close the pooled upstream connection too
  // (nginx and HAProxy treat it as hop-by-hop). Keep the upstream side pooled.
  proxy.on('proxyReq', (proxyReq) => {
    proxyReq.setHeader('connection', 'keep-alive');
  });
  proxy.on('error', (error, _req, res) => {
    if (res instanceof http.ServerResponse) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bad gateway: ${error.message}\n`);
    } else {
      res.destroy();
    }
  });

  const server = http.createServer((req, res) => {
    if (!isRouted(req)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no route\n');
      return;
    }
    proxy.web(req, res, { target: pickTarget() });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => {
    if (!isRouted(req)) {
      socket.destroy();
      return;
    }
    proxy.ws(req, socket, head, { target: pickTarget() });
  });
  // Like the other proxies: keep idle client connections for 75 s.
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 80_000;
  server.listen(config.port, '127.0.0.1', () => {
    process.stdout.write(`NODE_PEER_READY ${config.port}\n`);
  });
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
