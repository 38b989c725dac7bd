#!/usr/bin/env bash
# Runs node:test suites with the services already started: all of test/ by default, the given
# files, or with --unit only the unit tier (*.unit.test.ts: pure code and stages on in-memory
# ports; a few files to a process, see below). The unit tier runs with every service address
# pointed nowhere, so a test that needs a service cannot pass unnoticed in it. The whole suite also runs the end-to-end suite and the
# fault battery a second time on the Redis Cluster (MLL_TEST_REDIS_CLUSTER, started by
# scripts/services/redis-cluster.sh) when one is running.
set -euo pipefail
cd "$(dirname "$0")/.."
whole=0
mkdir -p test-output
if [[ ${1:-} == --unit ]]; then
  shift
  mapfile -t files < <(find test -name '*.unit.test.ts' | sort)
  # The unit files run in a few shared processes (MLL_UNIT_SHARDS, default 2; 0: one process per
  # file as the rest of the suite): a process per file spent more time starting node and tsx and
  # loading the same modules again than running tests. Files go round robin into generated entry
  # files that import them; each process runs its files one after another.
  shards=${MLL_UNIT_SHARDS:-2}
  if ((shards > 0)); then
    dir=$(mktemp -d test-output/unit-shards.XXXXXX)
    trap 'rm -rf "$dir"' EXIT
    for ((i = 0; i < ${#files[@]}; i++)); do
      echo "import '../../${files[i]}';" >>"$dir/shard-$((i % shards + 1)).test.mjs"
    done
    files=("$dir"/shard-*.test.mjs)
  fi
  unset S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY DOCKER_HOST MLL_TEST_REGISTRY MLL_TEST_REGISTRY_AUTH MLL_TEST_BASE_PYTHON MLL_TEST_BASE_PYTHON_SKLEARN MLL_TEST_BASE_TENSORFLOW MLL_TEST_REDIS_CLUSTER
  export REDIS_URL=redis://127.0.0.1:1
elif (($# == 0)); then
  whole=1
  mapfile -t files < <(find test -name '*.test.ts' | sort)
else
  files=("$@")
fi
# Default reporter (TAP when not on a terminal): CI reads its summary lines. --test-force-exit:
# a test file whose tests have all finished must not keep the run waiting on a stray handle.
# Timeouts: each test gets MLL_TEST_TIMEOUT_MS (test/support/default-test-timeout.ts), so a test
# waiting on a hung service fails the run instead of stalling it; --test-timeout bounds each whole
# file (node 20 applies it per file when files run in their own processes).
node --import tsx --import ./test/support/default-test-timeout.ts --test --test-force-exit \
  --test-timeout="${MLL_TEST_FILE_TIMEOUT_MS:-1800000}" --test-concurrency="${MLL_TEST_CONCURRENCY:-4}" "${files[@]}"
