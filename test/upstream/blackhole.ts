/**
 * An address whose TCP handshake never completes, for connect-timeout tests that
 * stay on 127.0.0.1: a child process listens with a backlog of 1 and then blocks
 * its only thread (Atomics.wait, no CPU), so it never accepts. Two filler
 * connections fill the accept queue; Linux then drops further SYNs, and a new
 * connection hangs until the client's connect timeout.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';

const source = `
const server = require('node:net').createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  // Block in the same callback that announces the port: with the block deferred (setImmediate),
  // the event loop could accept a filler connection first and leave room in the queue.
  require('node:fs').writeSync(1, 'PORT ' + server.address().port + '\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
});
`;

export interface Blackhole {
  readonly port: number;
  close(): Promise<void>;
}

export async function startBlackhole(): Promise<Blackhole> {
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`blackhole exited with ${code}`)));
  });
  // backlog 1 → the kernel completes backlog + 1 = 2 handshakes on its own; wait for both.
  const fillers = [0, 1].map(() => net.connect(port, '127.0.0.1'));
  await Promise.all(fillers.map((socket) => once(socket, 'connect')));
  return {
    port,
    close: async () => {
      for (const socket of fillers) socket.destroy();
      child.kill('SIGKILL');
      await exited;
    },
  };
}
