#!/usr/bin/env bash
# Fuzzes the keeper's frame reader and spec parsers (libFuzzer + ASan/UBSan) for N seconds (default 60).
#   bash native/fuzz/run.sh [seconds]
# Runs on a scratch copy of native/fuzz/corpus (the checkout stays clean). A crash, sanitizer report or
# leak fails the run and leaves the input that triggered it in the printed directory.
set -euo pipefail
SECS=${1:-60}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v "${FUZZ_CC:-clang}" >/dev/null || { echo "fuzz: clang not found (apt-get install clang libclang-rt-dev)" >&2; exit 1; }
make -s -C "$HERE/.." fuzz
work=$(mktemp -d "${TMPDIR:-/tmp}/slipway-fuzz-XXXXXX")
cp -r "$HERE/corpus" "$work/corpus"
mkdir -p "$work/artifacts"
if "$HERE/../build/fuzz-frames" -max_total_time="$SECS" -max_len=8192 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1; then
  grep -E '^stat::number_of_executed_units|^Done' "$work/log" >&2 || true
  rm -rf "$work"
  echo "fuzz: no crash in ${SECS}s" >&2
else
  tail -n 60 "$work/log" >&2
  echo "fuzz: FAILED; reproducer(s) in $work/artifacts: $(ls "$work/artifacts")" >&2
  exit 1
fi
