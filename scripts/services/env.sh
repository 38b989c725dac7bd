#!/usr/bin/env bash
# Prints the export lines of every test service without starting anything: eval "$(bash scripts/services/env.sh)"
set -euo pipefail
bash "$(dirname "$0")/s3.sh" env
bash "$(dirname "$0")/docker.sh" env
bash "$(dirname "$0")/redis-cluster.sh" env cluster
