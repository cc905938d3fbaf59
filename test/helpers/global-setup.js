/**
 * Builds dist/ once before the tests that spawn the compiled CLI (`node dist/src/cli.js …`), so those tests never
 * run a stale build and never race each other rebuilding it. Incremental: a build with nothing changed takes seconds.
 */
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = async function globalSetup() {
  const root = join(__dirname, '..', '..');
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'], {
      cwd: root,
      stdio: 'pipe',
    });
  } catch (e) {
    throw new Error(`the build failed, so the tests of the compiled CLI cannot run:\n${e.stdout || ''}${e.stderr || ''}`);
  }
};
