#!/usr/bin/env bash
# The keeper and container integration suites against the ASan/UBSan helper (`make -C native debug`).
# Any sanitizer report fails the run: the helper aborts on the first one (the test that caused it
# fails), and every report is also written below a log dir that is checked at the end.
#   bash scripts/test-asan.sh [extra vitest args...]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
make -s -C native debug || exit 1
logs=$(mktemp -d "${TMPDIR:-/tmp}/slipway-asan-XXXXXX")
chmod 1777 "$logs" # containers' workers may run as other ids
export SLIPWAY_HELPER=$PWD/native/build/slipway-helper-debug
# The keeper and its workers leave with _exit (no leak check there); leaks are the fuzzer's job.
export ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=0:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
npx vitest run --project integration test/integration/keeper test/integration/container "$@"
rc=$?
if compgen -G "$logs/*" >/dev/null; then
  echo "==> sanitizer reports:" >&2
  for f in "$logs"/*; do echo "--- $f" >&2; head -n 60 "$f" >&2; done
  rc=1
fi
rm -rf "$logs"
exit $rc
