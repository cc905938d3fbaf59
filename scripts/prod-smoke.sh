#!/usr/bin/env bash
# A production install exercised the way the container image (deploy/Dockerfile) and the systemd unit run it, in a
# clean directory, without a container engine (issue 14):
#   1. `npm pack` of the built checkout (what the image's build stage produces), unpacked into an empty directory
#      with the lockfile, then `npm ci --omit=dev` there (on Node 22.14+/24 also --omit=optional --ignore-scripts, as
#      the image does: nothing compiled): no TypeScript, no jest, no dev dependency at all;
#   2. a simulated pool (`xsupgrade sim`, from that install) and a loopback stand-in for Slack's Web API;
#   3. `xsupgrade serve` from that install, as a non-privileged process with its state in a private directory;
#   4. GET /healthz and /readyz must answer 200, /metrics must be Prometheus text, and a signed `/xsupgrade plan`
#      must move the XenAPI call counter; then SIGTERM must stop it with exit 0.
# Runs on the `node` in PATH (.ci/run: Node 24 from the registry, the image's runtime). Needs a built checkout (npm run
# build). Ports are chosen by the kernel (0); everything binds 127.0.0.1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/xsupgrade-prod.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "-- $*"; }
fail() { echo "prod-smoke: FAILED: $*" >&2; for f in "$work"/*.log; do echo "== $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }

step "npm pack (the image's build stage)"
(cd "$root" && npm pack --silent --ignore-scripts --pack-destination "$work" >/dev/null)
mkdir "$work/app"
tar -C "$work/app" --strip-components=1 -xzf "$work"/xsupgrade-*.tgz
cp "$root/package-lock.json" "$work/app/"

# The image's install (deploy/Dockerfile, docs/deploy.md) on Node 22.14+ and 24 (Node-API 10): production dependencies
# only, without the optional better-sqlite3-v12 (Node 20's fallback, src/store/sqlite-driver.ts) and without install
# scripts: better-sqlite3 13's binaries are inside its package, yet `npm ci` still runs node-gyp over its binding.gyp
# (seen with npm 11.19), which needs python3 and make, absent from the runtime image. Node 20 builds the fallback.
if [ "$(node -p 'Number(process.versions.napi) >= 10')" = true ]; then
  flags=(--omit=dev --omit=optional --ignore-scripts)
else
  flags=(--omit=dev)
fi
step "npm ci ${flags[*]} in a clean directory on node $(node --version) (the image's runtime dependencies)"
(cd "$work/app" && npm ci "${flags[@]}" --no-audit --no-fund >"$work/npm-ci.log" 2>&1) || fail "npm ci ${flags[*]}"
# what a plain `npm ci --omit=dev` runs last: it must use the dist/ in the package, not look for TypeScript
if [[ " ${flags[*]} " == *" --ignore-scripts "* ]]; then
  (cd "$work/app" && npm run prepare >>"$work/npm-ci.log" 2>&1) || fail "npm run prepare"
fi
grep -q "production install (no TypeScript)" "$work/npm-ci.log" || fail "prepare did not say it used the prebuilt dist/"
for dev in typescript jest ts-jest ws playwright-core; do
  [ ! -e "$work/app/node_modules/$dev" ] || fail "dev dependency $dev was installed"
done
if [[ " ${flags[*]} " == *" --omit=optional "* ]]; then
  [ ! -e "$work/app/node_modules/better-sqlite3-v12" ] || fail "the Node 20 fallback better-sqlite3-v12 was installed"
  [ -z "$(find "$work/app/node_modules" -path '*/build/*' -name '*.node' -print -quit)" ] || fail "a native module was compiled"
fi
cli=("node" "$work/app/dist/src/cli.js")
"${cli[@]}" --version | grep -q "^xsupgrade " || fail "--version"

step "a simulated pool and a loopback Slack Web API"
"${cli[@]}" sim --http --scenario "$work/app/manifests/demo/pool-a.yaml" --time-scale 100 >"$work/sim.log" 2>&1 &
pids+=($!)
token="xoxb-prod-smoke-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
node -e "
  require('$work/app/dist/src/sandbox/fake-web-api.js').startFakeSlackApi({ token: process.argv[1] })
    .then((api) => console.log('slack ' + api.url));
" "$token" >"$work/slack.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '^master: ' "$work/sim.log" && grep -q '^slack ' "$work/slack.log" && break; sleep 0.2; done
master="$(sed -n 's/^master: //p' "$work/sim.log")"
slack="$(sed -n 's/^slack //p' "$work/slack.log")"
[ -n "$master" ] && [ -n "$slack" ] || fail "the simulator or the Slack stand-in did not start"
password="$(grep -A4 '^pool:' "$work/app/manifests/demo/pool-a.yaml" | sed -n 's/^ *password: *//p' | tr -d '"')"

cat >"$work/pools.yaml" <<YAML
pools:
  - name: pool-a
    masterUrl: $master
    username: root
    passwordEnv: XS_SMOKE_PASSWORD
    tls: { mode: insecure-http }
    target: "7.6"
    upgrade: { mode: manual }
    slack:
      channel: C0XSUPGRADE
      approvers: { users: [U0MIKA] }
YAML
install -d -m 0700 "$work/state"
secret="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# the service's environment, as the unit's EnvironmentFile would give it
cat >"$work/state/xsupgrade.env" <<ENV
SLACK_BOT_TOKEN=$token
SLACK_SIGNING_SECRET=$secret
SLACK_API_URL=$slack
XSUPGRADE_PORT=0
XSUPGRADE_POOLS=$work/pools.yaml
XSUPGRADE_STATE=$work/state/state.sqlite
XSUPGRADE_BACKUPS=$work/state/backups
XS_SMOKE_PASSWORD=$password
ENV
chmod 600 "$work/state/xsupgrade.env"

step "xsupgrade serve from the production install"
(cd "$work/state" && XSUPGRADE_ENV_FILE="$work/state/xsupgrade.env" exec "${cli[@]}" serve) >"$work/serve.log" 2>"$work/serve-err.log" &
serve=$!
pids+=($serve)
for _ in $(seq 150); do grep -q 'ready (HTTP on' "$work/serve.log" && break; kill -0 "$serve" 2>/dev/null || fail "serve exited"; sleep 0.2; done
port="$(sed -n 's#.*http://127.0.0.1:\([0-9]*\)/slack/events.*#\1#p' "$work/serve.log")"
[ -n "$port" ] || fail "serve did not say where it listens"
base="http://127.0.0.1:$port"

http() { node -e "
  fetch(process.argv[1], process.argv[2] ? JSON.parse(process.argv[2]) : undefined)
    .then(async (r) => { process.stdout.write(await r.text()); process.exitCode = r.status === 200 ? 0 : 22; })
    .catch((e) => { console.error(e.message); process.exitCode = 7; });
" "$@"; }

step "GET /healthz"
http "$base/healthz" | grep -q '"ok"' || fail "/healthz"
step "GET /readyz (store, pools file, Slack)"
ready="$(http "$base/readyz")" || fail "/readyz: $ready"
for check in store pools-file slack; do echo "$ready" | grep -q "\"name\":\"$check\",\"ok\":true" || fail "/readyz check $check: $ready"; done

metric_total() { http "$base/metrics" | awk -v m="$1" '$1 ~ "^"m"({|$)" { s += $NF } END { print s + 0 }'; }
step "GET /metrics is Prometheus text"
http "$base/metrics" >"$work/metrics.txt" || fail "/metrics"
bad="$(grep -Ev '^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?([0-9.e+-]+|NaN|\+Inf|-Inf))$' "$work/metrics.txt" | grep -v '^$' || true)"
[ -z "$bad" ] || fail "not Prometheus text: $bad"
before="$(metric_total xsupgrade_xenapi_calls_total)"

step "a signed /xsupgrade plan pool-a moves the XenAPI call counter"
node -e "
  const crypto = require('node:crypto');
  const [url, secret] = process.argv.slice(1);
  const body = new URLSearchParams({ command: '/xsupgrade', text: 'plan pool-a', user_id: 'U0KENJI', channel_id: 'C0XSUPGRADE', team_id: 'T0SANDBOX', trigger_id: '1.2.3' }).toString();
  const ts = Math.floor(Date.now() / 1000);
  const sig = 'v0=' + crypto.createHmac('sha256', secret).update('v0:' + ts + ':' + body).digest('hex');
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sig }, body })
    .then((r) => { process.exitCode = r.status === 200 ? 0 : 1; }, () => { process.exitCode = 1; });
" "$base/slack/events" "$secret" || fail "the signed command was not acknowledged"
after="$before"
for _ in $(seq 150); do after="$(metric_total xsupgrade_xenapi_calls_total)"; [ "$after" -gt "$before" ] && break; sleep 0.2; done
[ "$after" -gt "$before" ] || fail "xsupgrade_xenapi_calls_total did not move ($before -> $after)"
echo "   xsupgrade_xenapi_calls_total $before -> $after"
! grep -q "$password\|$token\|$secret" "$work/serve.log" "$work/serve-err.log" || fail "a secret reached the bot's output"

step "SIGTERM stops it with exit 0"
kill -TERM "$serve"
code=0
wait "$serve" || code=$?
[ "$code" -eq 0 ] || fail "serve exited $code after SIGTERM"
[ -f "$work/state/state.sqlite" ] || fail "no state file in the state directory"
echo "prod-smoke: ok (production install in $work/app: /healthz, /readyz, /metrics answered; stopped cleanly)"
