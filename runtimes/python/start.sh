#!/bin/sh
# The runtime image's CMD: python becomes PID 1 (exec), so it gets SIGTERM itself and stops gracefully.
cd /app/src || exit 1
exec python3 -m mll_runtime "$@"
