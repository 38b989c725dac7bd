#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs and starts the real services the tests need
# (S3 store, Docker engine, registries, a Redis Cluster; the single Redis runs already on this kind
# of machine), then lint, typecheck and every node:test suite (the end-to-end suite and the fault
# battery twice: on the single Redis and on the Cluster). Usage: npm test  [-- test files...]
set -euo pipefail
cd "$(dirname "$0")/.."

[[ -d node_modules ]] || npm ci
[[ $(redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" ping 2>/dev/null) == PONG ]] \
  || { echo "Redis does not answer at ${REDIS_URL:-redis://127.0.0.1:6379}" >&2; exit 1; }

eval "$(bash scripts/services/s3.sh start)"
eval "$(bash scripts/services/docker.sh start)"
eval "$(bash scripts/services/redis-cluster.sh start cluster)"
bash scripts/services/test-deps.sh

echo "== lint" >&2
npx eslint .
echo "== typecheck" >&2
npx tsc -p tsconfig.json --noEmit

exec bash scripts/run-tests.sh "$@"
