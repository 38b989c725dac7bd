#!/usr/bin/env bash
# Runs node:test suites with the services already started: all of test/ by default, the given
# files, or with --unit only the unit tier (*.unit.test.ts: pure code and stages on in-memory
# ports). The unit tier runs with every service address pointed nowhere, so a test that needs a
# service cannot pass unnoticed in it. The whole suite also runs the end-to-end suite and the
# fault battery a second time on the Redis Cluster (MLL_TEST_REDIS_CLUSTER, started by
# scripts/services/redis-cluster.sh) when one is running.
set -euo pipefail
cd "$(dirname "$0")/.."
whole=0
if [[ ${1:-} == --unit ]]; then
  shift
  mapfile -t files < <(find test -name '*.unit.test.ts' | sort)
  unset S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY DOCKER_HOST MLL_TEST_REGISTRY MLL_TEST_REGISTRY_AUTH MLL_TEST_BASE_PYTHON MLL_TEST_BASE_PYTHON_SKLEARN MLL_TEST_BASE_TENSORFLOW MLL_TEST_REDIS_CLUSTER
  export REDIS_URL=redis://127.0.0.1:1
elif (($# == 0)); then
  whole=1
  mapfile -t files < <(find test -name '*.test.ts' | sort)
else
  files=("$@")
fi
mkdir -p test-output
# Default reporter (TAP when not on a terminal): CI reads its summary lines. --test-force-exit:
# a test file whose tests have all finished must not keep the run waiting on a stray handle.
# Timeouts: each test gets MLL_TEST_TIMEOUT_MS (test/support/default-test-timeout.ts), so a test
# waiting on a hung service fails the run instead of stalling it; --test-timeout bounds each whole
# file (node 20 applies it per file when files run in their own processes).
exec node --import tsx --import ./test/support/default-test-timeout.ts --test --test-force-exit \
  --test-timeout="${MLL_TEST_FILE_TIMEOUT_MS:-1800000}" --test-concurrency="${MLL_TEST_CONCURRENCY:-4}" "${files[@]}"
