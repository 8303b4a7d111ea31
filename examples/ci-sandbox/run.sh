#!/usr/bin/env bash
# A CI step in a throwaway sandbox with the slipway CLI: no Docker daemon, no root needed. The step
# runs without network access, sees nothing of the host but what it is given, and its exit code is
# the job's. Run: bash examples/ci-sandbox/run.sh   (SLIPWAY names the CLI; default: slipway)
set -euo pipefail
SLIPWAY=${SLIPWAY:-slipway}
IMAGE=${SANDBOX_IMAGE:-busybox:latest}

# 1. The step itself: offline (--network none), with the job's variables passed explicitly.
CI_JOB=${CI_JOB:-local} $SLIPWAY run --rm --network none -e CI_JOB "$IMAGE" sh -c '
  echo "job $CI_JOB: running as uid $(id -u) in $(hostname)"
  if wget -q -T 2 -O /dev/null http://10.0.2.2/ 2>/dev/null; then echo "network reachable: not a sandbox" >&2; exit 1; fi
  echo "no network: ok"
'

# 2. A failing step fails the job with the step's own exit code.
set +e
$SLIPWAY run --rm --network none "$IMAGE" sh -c 'echo "a step that fails"; exit 3'
code=$?
set -e
if [[ $code != 3 ]]; then echo "expected the step's exit code 3, got $code" >&2; exit 1; fi
echo "failing step exited $code, as the job would"
