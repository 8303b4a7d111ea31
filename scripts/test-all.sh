#!/usr/bin/env bash
# What `npm test` runs: the unit suite, then the integration suite (real registry, real containers),
# each only if this machine can run it; a suite that cannot run is reported with a loud SKIPPED
# banner that says why and how to fix it.
#
#   bash scripts/test-all.sh [--only=unit|integration] [extra vitest args...]
#
# SLIPWAY_REQUIRE_INTEGRATION=1 turns a skipped integration suite into a failure (CI sets it).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ONLY=
if [[ ${1:-} == --only=* ]]; then ONLY=${1#--only=}; shift; fi
case "$ONLY" in '' | unit | integration) ;; *) echo "test-all.sh: --only must be unit or integration" >&2; exit 2 ;; esac

FIXDIR=${SLIPWAY_FIXTURES_DIR:-/var/cache/slipway-fixtures}
REGISTRY_BIN=${SLIPWAY_REGISTRY_BIN:-/usr/bin/docker-registry}
failed=()
skipped=()

banner() {
  local line
  line=$(printf '!%.0s' {1..78})
  printf '\n%s\n!! SKIPPED %s\n' "$line" "$1" >&2
  shift
  local l
  for l in "$@"; do printf '!!   %s\n' "$l" >&2; done
  printf '%s\n\n' "$line" >&2
}

run_suite() {
  local name=$1; shift
  local t=$SECONDS
  echo "==> vitest --project $name" >&2
  if npx vitest run --project "$name" "$@"; then
    echo "==> $name: passed in $((SECONDS - t))s" >&2
  else
    echo "==> $name: FAILED after $((SECONDS - t))s" >&2
    failed+=("$name")
  fi
}

if [[ ! -x node_modules/.bin/vitest ]]; then
  echo "test-all.sh: node_modules is missing; run: npm ci" >&2
  exit 1
fi

# --- unit ---------------------------------------------------------------------------------------
[[ -z $ONLY || $ONLY == unit ]] && run_suite unit "$@"

# --- integration --------------------------------------------------------------------------------
if [[ -z $ONLY || $ONLY == integration ]]; then
  why=()
  [[ -f $FIXDIR/fixtures.json ]] || why+=("fixture images missing in $FIXDIR" "fix: sudo bash scripts/setup-host.sh")
  [[ -x $REGISTRY_BIN ]] || why+=("$REGISTRY_BIN not installed" "fix: sudo bash scripts/setup-host.sh (apt-get install docker-registry)")
  if ((${#why[@]})); then
    banner "integration suite (real registry and containers):" "${why[@]}"
    skipped+=(integration)
  else
    if [[ -f native/Makefile && ! -x native/build/slipway-helper ]]; then
      banner "nothing yet, but the native helper is not built: container tests will fail or skip" \
        "fix: npm run build (or make -C native)"
    fi
    [[ $(id -u) == 0 ]] && mode="as root" || mode="rootless as $(id -un)"
    echo "==> integration tests run $mode" >&2
    run_suite integration "$@"
  fi
fi

# --- jest (CommonJS consumers) -----------------------------------------------------------------
if [[ -z $ONLY || $ONLY == integration ]] && [[ ! " ${skipped[*]} " =~ " integration " ]]; then
  if [[ -f dist/cjs/index.js ]]; then
    t=$SECONDS
    echo "==> jest (require('slipway') from CommonJS, one real container)" >&2
    if node scripts/with-registry.mjs npx jest --config test/jest/jest.config.cjs; then
      echo "==> jest: passed in $((SECONDS - t))s" >&2
    else
      echo "==> jest: FAILED after $((SECONDS - t))s" >&2
      failed+=(jest)
    fi
  else
    banner "jest suite (CommonJS consumers):" "dist/cjs is not built" "fix: npm run build"
    skipped+=(jest)
  fi
fi

# --- examples (as a user's project resolves slipway: the built package) -------------------------
if [[ -z $ONLY || $ONLY == integration ]] && [[ ! " ${skipped[*]} " =~ " integration " ]]; then
  if [[ -f dist/cjs/index.js && -f dist/esm/index.js ]]; then
    t=$SECONDS
    echo "==> examples (vitest + Postgres, jest CJS + Redis, a Node script, a CI sandbox with the CLI)" >&2
    if node scripts/with-registry.mjs bash scripts/run-examples.sh; then
      echo "==> examples: passed in $((SECONDS - t))s" >&2
    else
      echo "==> examples: FAILED after $((SECONDS - t))s" >&2
      failed+=(examples)
    fi
  else
    banner "examples:" "dist is not built" "fix: npm run build"
    skipped+=(examples)
  fi
fi

# --- summary ------------------------------------------------------------------------------------
if ((${#skipped[@]})); then
  echo "test-all.sh: SKIPPED suites: ${skipped[*]} (see the banners above)" >&2
  if [[ ${SLIPWAY_REQUIRE_INTEGRATION:-0} == 1 ]]; then
    echo "test-all.sh: SLIPWAY_REQUIRE_INTEGRATION=1, so a skipped suite is a failure" >&2
    exit 1
  fi
fi
if ((${#failed[@]})); then
  echo "test-all.sh: FAILED suites: ${failed[*]}" >&2
  exit 1
fi
echo "test-all.sh: all runnable suites passed" >&2
