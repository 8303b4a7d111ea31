#!/usr/bin/env bash
# Runs every example in examples/ the way a user's project would: `slipway` resolves to the built
# package (dist/, through package.json's exports) via examples/node_modules/slipway -> ../.., and
# Docker Hub names (postgres:15, redis:7, busybox) come from the local test registry through
# SLIPWAY_HUB_IMAGE_NAME_PREFIX. Needs `npm run build` and the fixture registry (scripts/test-all.sh
# runs it after the integration suite, root and rootless).
#   node scripts/with-registry.mjs bash scripts/run-examples.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

[[ -f dist/esm/index.js && -f dist/cjs/index.js ]] || { echo "run-examples.sh: dist is not built; run: npm run build" >&2; exit 1; }
[[ -n ${SLIPWAY_TEST_REGISTRY:-} ]] || { echo "run-examples.sh: SLIPWAY_TEST_REGISTRY is not set; run it through: node scripts/with-registry.mjs bash scripts/run-examples.sh" >&2; exit 1; }
export SLIPWAY_HUB_IMAGE_NAME_PREFIX=$SLIPWAY_TEST_REGISTRY

made_link=
if [[ ! -e examples/node_modules/slipway ]]; then
  mkdir -p examples/node_modules
  ln -s ../.. examples/node_modules/slipway
  made_link=1
fi
cleanup() {
  [[ -n $made_link ]] && rm -f examples/node_modules/slipway
  rm -rf examples/node_modules/.vite examples/node_modules/.vite-temp examples/vitest-postgres/node_modules
  rmdir examples/node_modules 2>/dev/null || true
}
trap cleanup EXIT

failed=()
example() {
  local name=$1; shift
  local t=$SECONDS
  echo "==> example $name" >&2
  if "$@"; then
    echo "==> example $name: passed in $((SECONDS - t))s" >&2
  else
    echo "==> example $name: FAILED after $((SECONDS - t))s" >&2
    failed+=("$name")
  fi
}

VITEST=$ROOT/node_modules/vitest/vitest.mjs
JEST=$ROOT/node_modules/jest/bin/jest.js
# --configLoader runner: no bundled config written next to node_modules (read-only for a rootless copy).
example vitest-postgres node "$VITEST" run --root examples/vitest-postgres --configLoader runner
example jest-redis node --experimental-vm-modules "$JEST" --config examples/jest-redis/jest.config.cjs
example node-script node examples/node-script/main.mjs
example ci-sandbox env SLIPWAY="node $ROOT/dist/esm/cli.js" bash examples/ci-sandbox/run.sh

if ((${#failed[@]})); then
  echo "run-examples.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "run-examples.sh: all examples passed" >&2
