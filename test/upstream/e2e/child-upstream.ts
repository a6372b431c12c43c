/**
 * An upstream that runs in its own process, so a test can kill it with SIGKILL
 * mid-load the way a crash or the OOM killer would: sockets die with it, and new
 * connections are refused.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const source = `
const http = require('node:http');
const name = process.env.NAME;
const delayMs = Number(process.env.DELAY_MS || 0);
const server = http.createServer({ keepAliveTimeout: 30000 }, (req, res) => {
  req.resume();
  const answer = () => res.end(name);
  if (delayMs > 0) setTimeout(answer, delayMs); else answer();
});
server.listen(0, '127.0.0.1', () => process.stdout.write('PORT ' + server.address().port + '\\n'));
`;

export interface ChildUpstream {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
}

/** Starts a child HTTP server answering its `name` after `delayMs`; resolves once it listens. */
export async function startChildUpstream(name: string, delayMs = 0): Promise<ChildUpstream> {
  const child = spawn(process.execPath, ['-e', source], { env: { ...process.env, NAME: name, DELAY_MS: String(delayMs) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`child upstream ${name} exited with ${code} before listening`)));
  });
  const exited = once(child, 'exit');
  return {
    name,
    port,
    child,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
