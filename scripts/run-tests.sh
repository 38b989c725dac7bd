#!/usr/bin/env bash
# Runs node:test suites (all of test/ by default) with the services already started.
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# == 0)); then
  mapfile -t files < <(find test -name '*.test.ts' | sort)
else
  files=("$@")
fi
mkdir -p test-output
# Default reporter (TAP when not on a terminal): CI reads its summary lines. --test-force-exit:
# a test file whose tests have all finished must not keep the run waiting on a stray handle.
exec node --import tsx --test --test-force-exit --test-concurrency="${MLL_TEST_CONCURRENCY:-4}" "${files[@]}"
