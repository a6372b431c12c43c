/**
 * plan.processOrder: dependencies first, stable by config order; unknown,
 * process-less and cyclic dependencies are config errors.
 */

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { catchConfigError } from './fixtures.js';

let nextPort = 4000;
/** An upstream with an upstream-level process depending on `dependsOn`. */
function supervised(name: string, dependsOn: string[] = []): string {
  return `[upstreams.${name}]\nhost = "127.0.0.1"\nport = ${nextPort++}\nprocess.command = "run-${name}"\nprocess.depends_on = ${JSON.stringify(dependsOn)}\n`;
}
const routeTo = (name: string): string => `[[routes]]\nupstream = "${name}"\n`;

describe('process start order', () => {
  const cases: { name: string; toml: string; order: string[] }[] = [
    { name: 'no dependencies keeps config order', toml: supervised('a') + supervised('b') + supervised('c'), order: ['a', 'b', 'c'] },
    { name: 'a dependency is started first', toml: supervised('a', ['c']) + supervised('b') + supervised('c'), order: ['c', 'a', 'b'] },
    { name: 'chains resolve transitively', toml: supervised('web', ['api']) + supervised('api', ['db']) + supervised('db'), order: ['db', 'api', 'web'] },
    { name: 'a shared dependency appears once', toml: supervised('a', ['z']) + supervised('b', ['z']) + supervised('z'), order: ['z', 'a', 'b'] },
    {
      name: 'upstreams without a process are not units',
      toml: `${supervised('a')}[upstreams.plain]\nhost = "127.0.0.1"\nport = 5999\n${supervised('b')}`,
      order: ['a', 'b'],
    },
    {
      name: 'instance-level processes are units named by instance id, and depending on their upstream waits for all',
      toml:
        '[upstreams.pool]\n' +
        '[[upstreams.pool.instances]]\nsocket = "/tmp/p0.sock"\nprocess.command = "p"\n' +
        '[[upstreams.pool.instances]]\nsocket = "/tmp/p1.sock"\n' +
        '[[upstreams.pool.instances]]\nsocket = "/tmp/p2.sock"\nprocess.command = "p"\nprocess.depends_on = ["db"]\n' +
        supervised('web', ['pool']) +
        supervised('db'),
      order: ['pool#0', 'db', 'pool#2', 'web'],
    },
  ];
  for (const { name, toml, order } of cases) {
    it(name, () => {
      const firstUpstream = /\[upstreams\.([a-z]+)\]/.exec(toml)![1]!;
      const plan = parseConfig(toml + routeTo(firstUpstream), 'order.toml');
      assert.deepEqual(plan.processOrder, order);
    });
  }
});

describe('process dependency errors', () => {
  it('a cycle is named in order', () => {
    const error = catchConfigError(() => parseConfig(supervised('a', ['b']) + supervised('b', ['a']) + routeTo('a'), 'cycle.toml'));
    assert.equal(error.issues.length, 1);
    assert.equal(error.issues[0]!.path, 'upstreams.a.process.depends_on');
    assert.match(error.issues[0]!.message, /^process dependency cycle: a -> b -> a;/);
  });

  it('a longer cycle behind a non-cyclic unit', () => {
    const error = catchConfigError(() => parseConfig(supervised('x', ['a']) + supervised('a', ['b']) + supervised('b', ['c']) + supervised('c', ['a']) + routeTo('x'), 'cycle.toml'));
    assert.match(error.issues[0]!.message, /^process dependency cycle: a -> b -> c -> a;/);
  });

  it('depending on yourself is a cycle', () => {
    const error = catchConfigError(() => parseConfig(supervised('a', ['a']) + routeTo('a'), 'self.toml'));
    assert.match(error.issues[0]!.message, /^process dependency cycle: a -> a/);
  });

  it('depending on an upstream without a process says how to fix it', () => {
    const error = catchConfigError(() => parseConfig(`${supervised('a', ['plain'])}[upstreams.plain]\nhost = "127.0.0.1"\nport = 5999\n${routeTo('a')}`, 'p.toml'));
    assert.equal(error.issues[0]!.path, 'upstreams.a.process.depends_on');
    assert.match(error.issues[0]!.message, /upstream "plain" has no process/);
    assert.match(error.issues[0]!.message, /process\.command/);
  });

  it('depending on an unknown upstream suggests the closest name', () => {
    const error = catchConfigError(() => parseConfig(supervised('web', ['dbb']) + supervised('db') + routeTo('web'), 'u.toml'));
    assert.match(error.issues[0]!.message, /unknown upstream "dbb" \(did you mean "db"\?\)/);
  });
});
