#!/usr/bin/env node
/**
 * npm runs `prepare` after every install in this directory. A development install (`npm install`, `npm ci`) has
 * TypeScript and builds dist/; a production install (`npm ci --omit=dev`: the container image, docs/deploy.md) has
 * no TypeScript and uses the dist/ built beforehand. Either way it says what it does (issue 14).
 */
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { execFileSync } = require('node:child_process');

const root = join(__dirname, '..');
// the package's own TypeScript only: require.resolve from root would also find one in a node_modules of a folder
// above, and a production install there would try to compile without its sources
const ownTsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const tsc = existsSync(ownTsc) ? ownTsc : undefined;
if (tsc) {
  console.log('xsupgrade: compiling TypeScript into dist/ (tsc)…');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
  console.log('xsupgrade: built dist/; `npm start` runs the sandbox, `npx xsupgrade --help` lists the commands');
} else if (existsSync(join(root, 'dist', 'src', 'cli.js'))) {
  console.log('xsupgrade: production install (no TypeScript): using the dist/ built beforehand');
} else {
  console.error('xsupgrade: dist/ is missing and TypeScript is not installed: build first (`npm ci && npm run build`), then install with --omit=dev (docs/deploy.md)');
  process.exit(1);
}
