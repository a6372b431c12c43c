/**
 * The configuration the hardening tests share: two instances on 127.0.0.1 in one
 * pool that passive health would eject after three failures, so a test can show
 * that nothing a client sends ever counts against them, and a catch-all route to it.
 *
 * @module
 */

export interface PoolConfigOptions {
  /** Extra `[server]` lines. */
  readonly server?: string;
  /** A `[middleware]` section's lines. */
  readonly middleware?: string;
  /** `[[routes]]` tables tried before the catch-all one (which routes "/" to the pool). */
  readonly routes?: string;
}

/** TOML for `ports` as instances of upstream `pool`, routed from "/". */
export function ejectablePoolConfig(ports: readonly number[], options: PoolConfigOptions = {}): string {
  const instances = ports.map((port) => `[[upstreams.pool.instances]]\nhost = "127.0.0.1"\nport = ${port}\n`).join('');
  return `
[server]
http_port = 0
bind_address = "127.0.0.1"
${options.server ?? ''}
${options.middleware === undefined ? '' : `[middleware]\n${options.middleware}\n`}
[upstreams.pool]
passive = { max_fails = 3 }
${instances}
${options.routes ?? ''}
[[routes]]
path_prefix = "/"
upstream = "pool"
`;
}
