#!/usr/bin/env bash
# npm run chaos: starts the services, then runs the fault battery and prints its table.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d node_modules ]] || npm ci
eval "$(bash scripts/services/s3.sh start)"
eval "$(bash scripts/services/docker.sh start)"
MLL_TEST_LOG_LEVEL=${MLL_TEST_LOG_LEVEL:-silent} exec node --import tsx scripts/chaos.ts
