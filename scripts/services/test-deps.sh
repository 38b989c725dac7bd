#!/usr/bin/env bash
# Debian packages the tests use directly (not services): Chromium for the browser tests,
# h5py to regenerate .h5 fixtures, skopeo to inspect OCI layouts, docker-compose to validate docker-compose.yml.
set -euo pipefail
SVC_NAME=test-deps
. "$(dirname "$0")/lib.sh"
svc_apt chromium python3-h5py python3-numpy skopeo docker-compose
