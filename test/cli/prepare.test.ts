/**
 * scripts/prepare.js, which npm runs after every install: a development install (TypeScript in the package's own
 * node_modules) builds dist/; a production install (no TypeScript of its own) uses the dist/ built beforehand, even
 * when a folder above it has a node_modules with TypeScript in it.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const PREPARE = join(__dirname, '..', '..', 'scripts', 'prepare.js');

/** A package folder `app` inside `parent`, with prepare.js and a built dist/ */
function productionInstall(parent: string): string {
  const app = join(parent, 'app');
  mkdirSync(join(app, 'scripts'), { recursive: true });
  mkdirSync(join(app, 'dist', 'src'), { recursive: true });
  cpSync(PREPARE, join(app, 'scripts', 'prepare.js'));
  writeFileSync(join(app, 'dist', 'src', 'cli.js'), '');
  return app;
}

/** A fake TypeScript compiler in `dir`/node_modules that records that it ran */
function fakeTypeScript(dir: string): void {
  const bin = join(dir, 'node_modules', 'typescript', 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'typescript', 'package.json'), JSON.stringify({ name: 'typescript', version: '0.0.0' }));
  writeFileSync(join(bin, 'tsc'), "console.log('fake tsc ran');");
}

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('a production install uses its built dist/, even below a node_modules that has TypeScript', async () => {
  dir = mkdtempSync(join(tmpdir(), 'xsupgrade-prepare-'));
  const app = productionInstall(dir);
  fakeTypeScript(dir);
  const { stdout } = await promisify(execFile)(process.execPath, [join(app, 'scripts', 'prepare.js')], { cwd: app });
  expect(stdout).toMatch(/production install \(no TypeScript\): using the dist\/ built beforehand/);
  expect(stdout).not.toMatch(/fake tsc ran/);
});

it('a development install compiles with the TypeScript of the package', async () => {
  dir = mkdtempSync(join(tmpdir(), 'xsupgrade-prepare-'));
  const app = productionInstall(dir);
  fakeTypeScript(app);
  const { stdout } = await promisify(execFile)(process.execPath, [join(app, 'scripts', 'prepare.js')], { cwd: app });
  expect(stdout).toMatch(/compiling TypeScript into dist\/ \(tsc\)/);
  expect(stdout).toMatch(/fake tsc ran/);
});
