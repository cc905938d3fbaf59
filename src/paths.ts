import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The package root (the folder with xsupgrade's package.json), found by walking up from this module, so that
 * manifests/ and the sandbox's page assets are found whether the code runs from src/ (ts-jest) or dist/src/.
 */
export function projectRoot(from: string = __dirname): string {
  // from this module first; then from the working directory (a build placed outside the checkout)
  for (const start of [from, process.cwd()]) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const pkg = join(dir, 'package.json');
      if (existsSync(pkg) && isXsupgradePackage(pkg)) return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`xsupgrade's package root not found above ${from} or the working directory`);
}

function isXsupgradePackage(file: string): boolean {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'xsupgrade';
  } catch {
    return false;
  }
}

/** A path inside the package, e.g. projectPath('manifests', 'upgrade-paths.yaml'). */
export function projectPath(...segments: string[]): string {
  return join(projectRoot(), ...segments);
}
