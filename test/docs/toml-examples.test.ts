/**
 * Every ```toml block in README.md and docs/*.md goes through `warpdrive check`
 * (the real CLI), so an example cannot drift from what the loader accepts.
 *
 * The convention, for whoever writes docs:
 *
 * - A ```toml block is a complete configuration and must pass `check` as written,
 *   with no WARPDRIVE_* variables set.
 * - A block that deliberately shows only part of a configuration (one table, a few
 *   routes) is marked by the line `<!-- not-a-full-config -->` right before its
 *   opening fence (blank lines between are allowed). The test completes it with the
 *   least that makes it loadable, and `check` validates the block's own keys:
 *     - every upstream it names (in a route or in process.depends_on) but does not
 *       define gets `host = "127.0.0.1"`, `port = 3000`;
 *     - an upstream it configures without an address (`[upstreams.api.health]`
 *       alone) gets the same address;
 *     - an upstream named in depends_on gets a process if it has none;
 *     - a block without any upstream gets one, `app`, at that address;
 *     - without routes, one catch-all route to the first upstream is added;
 *     - with a `require_auth` route and no admin token, `admin_token` is added.
 *   Nothing the block sets is changed, so a misspelt key or a bad value in a
 *   fragment still fails.
 * - A block that cannot be checked on its own (it names certificate files only the
 *   reader has, or shows keys that only make sense added to another example) is
 *   marked `<!-- not-checked: REASON -->` before its fence: its TOML syntax is still
 *   parsed, and the check is reported as skipped with that reason.
 * - Directories a block names (`static_root`, `x_sendfile_roots`,
 *   `x_accel_mappings` roots) must exist for `check`, as on a server: the test
 *   creates them beside the temporary config file. An absolute one (`/var/app/private`)
 *   is created under the temporary directory instead, and the block's value pointed
 *   there: what the block can be checked for is its keys, not this machine's disk.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { tempDir } from '../helpers/upstream.js';
import { cleanEnv, repoRoot, runCli, writeConfig } from '../helpers/warpdrive.js';

const fragmentMarker = '<!-- not-a-full-config -->';
const notCheckedMarker = /<!-- not-checked: (.+?) -->$/;

interface TomlExample {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly toml: string;
  readonly fragment: boolean;
  /** Why the block is not checked (`<!-- not-checked: REASON -->`), if it is marked so. */
  readonly notChecked: string | undefined;
}

/** The ```toml blocks of one Markdown text, with their line and whether they are marked as fragments. */
function tomlExamples(markdown: string, file: string): TomlExample[] {
  const examples: TomlExample[] = [];
  for (const match of markdown.matchAll(/^```toml\n([\s\S]*?)^```$/gm)) {
    const before = markdown.slice(0, match.index).trimEnd();
    examples.push({
      file,
      line: markdown.slice(0, match.index).split('\n').length,
      toml: match[1]!,
      fragment: before.endsWith(fragmentMarker),
      notChecked: notCheckedMarker.exec(before)?.[1],
    });
  }
  return examples;
}

type Table = Record<string, unknown>;
const isTable = (value: unknown): value is Table => value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
const placeholderAddress = { host: '127.0.0.1', port: 3000 };

/** The fragment's document, completed as the header describes (only missing parts are added). */
function completeFragment(toml: string): Table {
  const doc = parseToml(toml) as Table;
  const upstreams: Table = isTable(doc.upstreams) ? doc.upstreams : {};
  doc.upstreams = upstreams;
  const routes = Array.isArray(doc.routes) ? (doc.routes as Table[]) : undefined;

  const processes = (upstream: Table): Table[] => [
    ...(isTable(upstream.process) ? [upstream.process] : []),
    ...(Array.isArray(upstream.instances) ? (upstream.instances as Table[]).filter((i) => isTable(i.process)).map((i) => i.process as Table) : []),
  ];
  const dependencies = new Set<string>();
  for (const upstream of Object.values(upstreams).filter(isTable)) {
    for (const process of processes(upstream)) for (const name of (process.depends_on as string[] | undefined) ?? []) dependencies.add(name);
  }
  const named = new Set([...(routes ?? []).map((route) => route.upstream).filter((name): name is string => typeof name === 'string'), ...dependencies]);
  for (const name of named) if (!(name in upstreams)) upstreams[name] = {};
  if (Object.keys(upstreams).length === 0) upstreams.app = {};
  for (const upstream of Object.values(upstreams).filter(isTable)) {
    const hasAddress = ['host', 'port', 'socket', 'instances'].some((key) => key in upstream);
    if (!hasAddress) Object.assign(upstream, placeholderAddress);
  }
  for (const name of dependencies) {
    const upstream = upstreams[name];
    if (isTable(upstream) && processes(upstream).length === 0) upstream.process = { command: 'true' };
  }
  if (routes === undefined) doc.routes = [{ path_prefix: '/', upstream: Object.keys(upstreams)[0] }];
  const middleware: Table = isTable(doc.middleware) ? doc.middleware : {};
  if (((doc.routes as Table[]) ?? []).some((route) => route.require_auth === true) && middleware.admin_token === undefined) {
    middleware.admin_token = 'docs-example';
    doc.middleware = middleware;
  }
  return doc;
}

/** Creates the directories `doc` names under `dir` (see the header); returns `doc`, absolute ones re-pointed. */
function prepareDirectories(doc: Table, dir: string): Table {
  const place = (value: unknown): unknown => {
    if (typeof value !== 'string') return value;
    const target = path.isAbsolute(value) ? path.join(dir, 'absolute', value) : path.join(dir, value);
    mkdirSync(target, { recursive: true });
    return path.isAbsolute(value) ? target : value;
  };
  for (const route of Array.isArray(doc.routes) ? (doc.routes as Table[]) : []) if ('static_root' in route) route.static_root = place(route.static_root);
  const middleware = isTable(doc.middleware) ? doc.middleware : undefined;
  if (middleware !== undefined && Array.isArray(middleware.x_sendfile_roots)) middleware.x_sendfile_roots = (middleware.x_sendfile_roots as unknown[]).map(place);
  if (middleware !== undefined && Array.isArray(middleware.x_accel_mappings)) {
    for (const mapping of middleware.x_accel_mappings as Table[]) if (isTable(mapping)) mapping.root = place(mapping.root);
  }
  return doc;
}

function markdownFiles(): string[] {
  const root = repoRoot();
  const docs = path.join(root, 'docs');
  return [path.join(root, 'README.md'), ...readdirSync(docs).filter((name) => name.endsWith('.md')).sort().map((name) => path.join(docs, name))];
}

describe('the fragment convention', () => {
  test('a marked block is a fragment, an unmarked one a full config', () => {
    const markdown = `text\n\n${fragmentMarker}\n\n\`\`\`toml\n[server]\nhttp_port = 1\n\`\`\`\n\n\`\`\`toml\n[upstreams.a]\nhost = "x"\n\`\`\`\n`;
    assert.deepEqual(
      tomlExamples(markdown, 'x.md').map((e) => [e.line, e.fragment]),
      [
        [5, true],
        [10, false],
      ],
    );
  });

  test('completion adds only what is missing, and keeps a typo for check to find', () => {
    const doc = completeFragment('[upstreams.cable]\nhost = "127.0.0.1"\nport = 3001\nprocess.command = "x"\nprocess.depends_on = ["rails"]\nstratgy = "x"\n');
    // JSON round trip: TOML tables have a null prototype.
    assert.deepEqual(JSON.parse(JSON.stringify(doc.upstreams)), {
      cable: { host: '127.0.0.1', port: 3001, process: { command: 'x', depends_on: ['rails'] }, stratgy: 'x' },
      rails: { host: '127.0.0.1', port: 3000, process: { command: 'true' } },
    });
    assert.deepEqual(JSON.parse(JSON.stringify(doc.routes)), [{ path_prefix: '/', upstream: 'cable' }]);
  });
});

describe('TOML examples in README.md and docs/*.md pass warpdrive check', () => {
  const examples = markdownFiles().flatMap((file) => tomlExamples(readFileSync(file, 'utf8'), path.relative(repoRoot(), file)));

  test('there are examples, full and partial', () => {
    assert.ok(examples.filter((e) => !e.fragment).length >= 5);
    assert.ok(examples.some((e) => e.fragment));
  });

  for (const example of examples.filter((e) => e.notChecked !== undefined)) {
    test(`${example.file}:${example.line} is valid TOML`, () => void parseToml(example.toml));
    test(`${example.file}:${example.line} (check)`, { skip: `marked not-checked: ${example.notChecked}` }, () => undefined);
  }

  for (const example of examples.filter((e) => e.notChecked === undefined)) {
    test(`${example.file}:${example.line}${example.fragment ? ' (fragment)' : ''}`, { timeout: 20_000 }, async () => {
      const dir = tempDir('wd-docs-');
      const doc = prepareDirectories(example.fragment ? completeFragment(example.toml) : (parseToml(example.toml) as Table), dir);
      const toml = stringifyToml(doc);
      const file = path.join(dir, `${path.basename(example.file, '.md')}.toml`);
      writeFileSync(file, toml);
      const { code, stdout, stderr } = await runCli(['check', '--config', file], cleanEnv);
      assert.equal(code, 0, `warpdrive check exited ${code} on ${example.file} line ${example.line}:\n${stderr}\n--- checked:\n${toml}`);
      assert.match(stdout, /^upstreams \(\d+\):/m);
    });
  }

  test('a fragment with a misspelt key still fails check (so the completion hides nothing)', { timeout: 20_000 }, async () => {
    const file = writeConfig(stringifyToml(completeFragment('[upstreams.api.health]\npaht = "/health"\n')));
    const { code, stderr } = await runCli(['check', '--config', file], cleanEnv);
    assert.equal(code, 2);
    assert.match(stderr, /upstreams\.api\.health\.paht/);
  });
});
