#!/usr/bin/env bash
# The unit and integration tests on the supported Node.js LTS lines (issue 14): Node 22 and 24 by default, besides
# the machine's own Node that `npm test` uses. Each version comes from the npm registry's `node` package (it ships
# the runtime), so nothing beyond the registry is needed. Nothing is rebuilt: on these runtimes the store uses
# better-sqlite3 13, a Node-API addon whose prebuilt binaries are inside the package and load on any Node with
# Node-API 10 (src/store/sqlite-driver.ts), so the tests run in the checkout as installed.
#   scripts/test-node-versions.sh [version…]     e.g. scripts/test-node-versions.sh 22 24
#   XSUPGRADE_NODE_TESTS="test/store test/unit"  limits the test files (default: all of `npm test`)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ "${1:-}" = "--inner" ]; then
  # runs under `npx -p node@<v>`: `node` is that version
  cd "$root"
  echo "== node $(node --version) (Node-API $(node -p process.versions.napi))"
  # the supported runtimes have Node-API 10; an older one would need better-sqlite3 12 rebuilt for its ABI
  node -e "process.exit(Number(process.versions.napi) >= 10 ? 0 : 1)" \
    || { echo "node $(node --version) lacks Node-API 10: not a supported runtime (package.json engines)" >&2; exit 1; }
  # the driver this runtime gets (src/store/sqlite-driver.ts) opens a database and runs a statement
  node -e "const { sqliteDriver, sqlitePackage } = require('./dist/src/store/sqlite-driver.js');
    const D = sqliteDriver(); const db = new D(':memory:'); db.prepare('SELECT 1').get();
    console.log(sqlitePackage + ' ' + require(sqlitePackage + '/package.json').version + ' loads on ' + process.version)"
  # shellcheck disable=SC2086
  node node_modules/jest/bin/jest.js ${XSUPGRADE_NODE_TESTS:-}
  exit $?
fi

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(22 24)
[ -f "$root/dist/src/store/sqlite-driver.js" ] || { echo "build first (npm run build)" >&2; exit 1; }
for v in "${versions[@]}"; do
  npx -y -p "node@$v" -c "bash '$root/scripts/test-node-versions.sh' --inner"
done
