/**
 * Confinement against a real directory tree: regular files inside the roots
 * open; symlinks leading out, devices, FIFOs, sockets and directories do not.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRoot, FileRootError } from '../../src/files/file-root.js';
import { FileRefusal, openConfined, type OpenOutcome } from '../../src/files/open-confined.js';

let base: string;
let root: FileRoot;
let socketServer: Server;

function kindOf(outcome: OpenOutcome): string {
  if (outcome.kind === 'file') {
    closeSync(outcome.fd);
    return 'file';
  }
  return outcome.kind === 'refused' ? `refused:${outcome.reason}` : outcome.kind;
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'wd-confine-'));
  const pub = join(base, 'public');
  mkdirSync(join(pub, 'assets'), { recursive: true });
  mkdirSync(join(base, 'secret'));
  writeFileSync(join(pub, 'index.html'), '<h1>home</h1>');
  writeFileSync(join(pub, 'assets', 'app.css'), 'body{}');
  writeFileSync(join(base, 'secret', 'passwords.txt'), 'hunter2');
  symlinkSync(join(pub, 'assets', 'app.css'), join(pub, 'inside-link.css'));
  symlinkSync('assets/app.css', join(pub, 'relative-inside-link.css'));
  symlinkSync(join(base, 'secret', 'passwords.txt'), join(pub, 'escape.txt'));
  symlinkSync('../secret/passwords.txt', join(pub, 'relative-escape.txt'));
  symlinkSync(join(base, 'secret'), join(pub, 'secret-dir'));
  symlinkSync('/etc/passwd', join(pub, 'etc-passwd'));
  symlinkSync('/dev/null', join(pub, 'null-device'));
  symlinkSync('/dev/zero', join(pub, 'zero-device'));
  symlinkSync(join(pub, 'loop-b'), join(pub, 'loop-a'));
  symlinkSync(join(pub, 'loop-a'), join(pub, 'loop-b'));
  symlinkSync(join(pub, 'nowhere'), join(pub, 'dangling'));
  execFileSync('mkfifo', [join(pub, 'pipe')]);
  socketServer = createServer();
  await new Promise<void>((resolve) => socketServer.listen(join(pub, 'app.sock'), resolve));
  root = FileRoot.resolve(pub);
});

after(() => {
  socketServer.close();
  rmSync(base, { recursive: true, force: true });
});

describe('openConfined', () => {
  const cases: [string, string][] = [
    ['index.html', 'file'],
    ['assets/app.css', 'file'],
    ['inside-link.css', 'file'],
    ['relative-inside-link.css', 'file'],
    ['assets', 'directory'],
    ['missing.html', 'missing'],
    ['index.html/x', 'missing'],
    ['dangling', 'missing'],
    ['escape.txt', `refused:${FileRefusal.SymlinkEscape}`],
    ['relative-escape.txt', `refused:${FileRefusal.SymlinkEscape}`],
    ['secret-dir/passwords.txt', `refused:${FileRefusal.SymlinkEscape}`],
    ['etc-passwd', `refused:${FileRefusal.SymlinkEscape}`],
    ['null-device', `refused:${FileRefusal.NotRegularFile}`],
    ['zero-device', `refused:${FileRefusal.NotRegularFile}`],
    ['pipe', `refused:${FileRefusal.NotRegularFile}`],
    ['app.sock', `refused:${FileRefusal.NotRegularFile}`],
    ['loop-a', `refused:${FileRefusal.NotReadable}`],
  ];
  for (const [relative, expected] of cases) {
    test(`${relative} -> ${expected}`, () => assert.equal(kindOf(openConfined(join(root.path, relative), [root])), expected));
  }

  test('the opened descriptor reads the file and its stats are the file\'s', () => {
    const outcome = openConfined(join(root.path, 'inside-link.css'), [root]);
    assert.equal(outcome.kind, 'file');
    if (outcome.kind !== 'file') return;
    assert.equal(outcome.stats.size, 6);
    assert.equal(readFileSync(outcome.fd, 'utf8'), 'body{}');
    closeSync(outcome.fd);
  });

  test('a symlink into another allowed root is served', () => {
    const secret = FileRoot.resolve(join(base, 'secret'));
    assert.equal(kindOf(openConfined(join(root.path, 'escape.txt'), [root, secret])), 'file');
  });

  test('a root reached through a symlink: files match its real path', () => {
    const linkToPublic = join(base, 'public-link');
    symlinkSync(root.path, linkToPublic);
    const viaLink = FileRoot.resolve(linkToPublic);
    assert.equal(viaLink.realPath, realpathSync(root.path));
    assert.equal(kindOf(openConfined(join(linkToPublic, 'index.html'), [viaLink])), 'file');
    assert.equal(viaLink.containsLexically(join(linkToPublic, 'index.html')), true);
    assert.equal(viaLink.containsLexically(join(viaLink.realPath, 'index.html')), true);
    assert.equal(viaLink.containsLexically(`${linkToPublic}-other/index.html`), false);
  });
});

describe('FileRoot.resolve', () => {
  test('refuses a missing directory, a file and a relative path, naming them', () => {
    assert.throws(() => FileRoot.resolve(join(base, 'nope')), (e: Error) => e instanceof FileRootError && e.message === `directory not found: ${join(base, 'nope')}`);
    assert.throws(() => FileRoot.resolve(join(base, 'public', 'index.html')), /not a directory/);
    assert.throws(() => FileRoot.resolve('public'), /not an absolute path/);
  });

  test('containsReal: the root itself and below, never a sibling with the same prefix', () => {
    assert.equal(root.containsReal(root.realPath), true);
    assert.equal(root.containsReal(join(root.realPath, 'a')), true);
    assert.equal(root.containsReal(`${root.realPath}x/a`), false);
    assert.equal(root.containsReal(join(root.realPath, '..')), false);
  });
});
