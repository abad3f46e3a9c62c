#!/usr/bin/env bash
# Full test entry point (`npm test`): system deps, build, type-check tests, then every test/**/*.test.ts with tap.
# Extra arguments go to tap, e.g. `npm test -- test/integration/harness.test.ts`.
set -euo pipefail
cd "$(dirname "$0")/.."

# dcmtk (clients, storescp) and Orthanc disable Nagle only when this is set; see DESIGN.md.
export TCP_NODELAY=1

bash scripts/install-deps.sh </dev/null

if [ ! -x node_modules/.bin/tap ] || [ ! -x node_modules/.bin/tsc ]; then
  echo "test: node_modules incomplete, running npm ci"
  npm ci --no-audit --no-fund </dev/null
fi

# The OHIF viewer bundle the viewer tests serve (pinned, integrity-checked; cached outside git).
bash scripts/fetch-viewer.sh </dev/null

echo "test: build (tsc -p tsconfig.build.json)"
npx --no-install tsc -p tsconfig.build.json
echo "test: type-check src, test, bench (tsc -p tsconfig.test.json)"
npx --no-install tsc -p tsconfig.test.json

# tap's settings (files, jobs, timeout, coverage) are in package.json under "tap".
if [ -t 1 ]; then
  exec npx --no-install tap "$@"
fi

# Not a terminal (CI): tap prints raw TAP ending in "# { total: N, pass: N, fail: N }"; restate
# that as a plain "N passed, N failed" line so log readers need not know TAP.
out="$(mktemp "${TMPDIR:-/tmp}/pgw-tap.XXXXXX")"
trap 'rm -f "$out"' EXIT
status=0
npx --no-install tap "$@" </dev/null 2>&1 | tee "$out" || status=$?
summary="$(grep -aE '^# \{ total: [0-9]+' "$out" | tail -n 1 || true)"
if [ -n "$summary" ]; then
  count() { sed -nE "s/.*[{ ]$1: ([0-9]+).*/\\1/p" <<<"$summary"; }
  pass="$(count pass)"
  fail="$(count fail)"
  skip="$(count skip)"
  line="tap: ${pass:-0} passed, ${fail:-0} failed"
  if [ -n "$skip" ]; then line="$line, $skip skipped"; fi
  echo "$line"
fi
exit "$status"
