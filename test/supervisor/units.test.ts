/**
 * Units of a plan and the --only / --except selection (pure, table-driven).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectUnits, unitsOfPlan, SupervisorSelectionError } from '../../src/supervisor/units.js';
import { childProcess, instance, planOf, tcp, unix, upstream } from './helpers.js';

// db <- api <- web ; cable <- api ; rails has two instance-level processes; static has no process.
function fleetPlan() {
  return planOf(
    [
      upstream('db', [instance('db#0', unix('/tmp/db.sock'))], childProcess({})),
      upstream('api', [instance('api#0', tcp(7001)), instance('api#1', tcp(7002))], childProcess({}, { dependsOn: ['db'] }), { path: '/up' }),
      upstream('web', [instance('web#0', tcp(7003))], childProcess({}, { dependsOn: ['api', 'rails'] })),
      upstream('cable', [instance('cable#0', tcp(7004))], childProcess({}, { dependsOn: ['api'] })),
      upstream('rails', [instance('rails#0', tcp(7005), childProcess({})), instance('rails#1', tcp(7006), childProcess({}))]),
      upstream('static', [instance('static#0', tcp(7007))]),
    ],
    ['db', 'api', 'rails#0', 'rails#1', 'web', 'cable'],
  );
}

test('units follow processOrder; upstream-level units serve the instances, instance-level units one each', () => {
  const units = unitsOfPlan(fleetPlan());
  assert.deepEqual(units.map((u) => u.name), ['db', 'api', 'rails#0', 'rails#1', 'web', 'cable']);
  const api = units.find((u) => u.name === 'api')!;
  assert.deepEqual(api.instances.map((i) => i.id), ['api#0', 'api#1']);
  assert.equal(api.health?.path, '/up');
  assert.deepEqual(api.dependsOn, ['db']);
  // A dependency on an upstream with instance-level processes waits for all of them.
  assert.deepEqual(units.find((u) => u.name === 'web')!.dependsOn, ['api', 'rails#0', 'rails#1']);
  const rails0 = units.find((u) => u.name === 'rails#0')!;
  assert.equal(rails0.upstream, 'rails');
  assert.deepEqual(rails0.instances.map((i) => i.id), ['rails#0']);
  // The plan's units are clone-safe (crossing to the worker).
  assert.deepEqual(structuredClone(units), units);
});

test('inconsistent plans are rejected with a reason', () => {
  const plan = fleetPlan();
  const cases: Array<[string, string[], RegExp]> = [
    ['dependency after dependent', ['api', 'db', 'rails#0', 'rails#1', 'web', 'cable'], /lists "api" before its dependency "db"/],
    ['unknown unit', ['db', 'api', 'nope', 'rails#0', 'rails#1', 'web', 'cable'], /names "nope", which has no process/],
    ['missing unit', ['db', 'api', 'rails#0', 'rails#1', 'web'], /leaves out cable/],
  ];
  for (const [label, order, message] of cases) {
    assert.throws(() => unitsOfPlan({ ...plan, processOrder: order }), message, label);
  }
});

test('--only adds the dependency closure and explains it', () => {
  const all = unitsOfPlan(fleetPlan());
  const table: Array<[string[], string[]]> = [
    [['db'], ['db']],
    [['api'], ['db', 'api']],
    [['web'], ['db', 'api', 'rails#0', 'rails#1', 'web']],
    [['rails'], ['rails#0', 'rails#1']],
    [['rails#1'], ['rails#1']],
    [['cable', 'db'], ['db', 'api', 'cable']],
  ];
  for (const [only, expected] of table) {
    assert.deepEqual(selectUnits(all, { only }).units.map((u) => u.name), expected, `--only ${only.join(',')}`);
  }
  const { notes, excluded } = selectUnits(all, { only: ['cable'] });
  assert.deepEqual(notes, ['starting api too: cable depends on it', 'starting db too: api depends on it']);
  assert.deepEqual(excluded.map((u) => u.name), ['rails#0', 'rails#1', 'web']);
});

test('--except leaves units out and lets their dependents start without waiting', () => {
  const all = unitsOfPlan(fleetPlan());
  const { units, excluded, notes } = selectUnits(all, { except: ['api'] });
  assert.deepEqual(units.map((u) => u.name), ['db', 'rails#0', 'rails#1', 'web', 'cable']);
  assert.deepEqual(excluded.map((u) => u.name), ['api']);
  assert.deepEqual(units.find((u) => u.name === 'web')!.dependsOn, ['rails#0', 'rails#1']);
  assert.deepEqual(units.find((u) => u.name === 'cable')!.dependsOn, []);
  assert.ok(notes.includes('web starts without waiting for api, which is excluded (run it yourself)'));
  // Combined: --except wins over dependencies --only pulled in.
  assert.deepEqual(selectUnits(all, { only: ['web'], except: ['rails#0'] }).units.map((u) => u.name), ['db', 'api', 'rails#1', 'web']);
});

test('unknown names are errors with a suggestion and the list of processes', () => {
  const all = unitsOfPlan(fleetPlan());
  assert.throws(
    () => selectUnits(all, { only: ['cabel'] }),
    (error: unknown) =>
      error instanceof SupervisorSelectionError &&
      error.code === 'WD_ERR_SUPERVISOR_SELECTION' &&
      /--only "cabel" is not a supervised upstream or instance\. Did you mean "cable"\?/.test(error.message) &&
      /Supervised processes: db, api, rails, rails#0, rails#1, web, cable\./.test(error.message),
  );
  assert.throws(() => selectUnits(all, { only: ['dbb'] }), /Did you mean "db"\?/);
  assert.throws(() => selectUnits(all, { only: ['rails#3'] }), /Did you mean "rails#0" or "rails#1"\?/);
  // An upstream without a process cannot be selected either.
  assert.throws(() => selectUnits(all, { except: ['static'] }), /--except "static" is not a supervised upstream/);
  assert.throws(() => selectUnits([], { only: ['x'] }), /supervises no process/);
});

test('--only/--except values are split on commas and spaces, repeated flags merge', async () => {
  const { parseNameList } = await import('../../src/supervisor/units.js');
  assert.deepEqual(parseNameList('web,api'), ['web', 'api']);
  assert.deepEqual(parseNameList(['web', 'api, cable']), ['web', 'api', 'cable']);
  assert.equal(parseNameList(undefined), undefined);
  assert.equal(parseNameList(''), undefined);
  assert.equal(parseNameList(true), undefined);
});
