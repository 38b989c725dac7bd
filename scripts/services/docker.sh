#!/usr/bin/env bash
# docker.sh start|stop [dockerd|registry|registry-auth|all] - a local Docker engine, OCI registries
# and the runtime base images for the tests and benchmarks.
#
#   dockerd        Debian's docker.io on its own socket, data root and pidfile
#   registry       Debian's docker-registry (distribution) on 127.0.0.1:5000, anonymous
#   registry-auth  the same on 127.0.0.1:5001 behind htpasswd basic auth (user mll)
#   base images    mll/runtime-python:3.11 and mll/runtime-python-sklearn:3.11, ML Lambda's Python
#                  runtime built from Debian packages by runtimes.sh (cached; seconds when unchanged);
#                  mll/runtime-tensorflow:dev = FROM scratch + Debian's static busybox, a stand-in.
#                  All pushed to the anonymous registry (no image can be pulled from a hub here)
# `start` is idempotent and prints `export ...` lines on stdout (progress on stderr).
# Env: MLL_SERVICES_DIR (/tmp/mll-services), MLL_REGISTRY_PORT (5000), MLL_REGISTRY_AUTH_PORT (5001)
set -euo pipefail
SVC_NAME=docker
. "$(dirname "$0")/lib.sh"

ROOT="${MLL_SERVICES_DIR:-/tmp/mll-services}"
DROOT="$ROOT/docker"; RROOT="$ROOT/registry"; RUN="$ROOT/run"
SOCK="$DROOT/docker.sock"
REG_PORT=${MLL_REGISTRY_PORT:-5000}
AUTH_PORT=${MLL_REGISTRY_AUTH_PORT:-5001}
REG_USER=mll
REG_PASS=mll-registry-pass
DOCKER=/usr/bin/docker

docker_ok() { curl -fsS -m 3 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }
reg_ok() { [[ $(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$1/v2/") =~ ^(200|401)$ ]]; }

start_dockerd() {
  docker_ok && return 0
  mkdir -p "$DROOT"
  rm -f "$SOCK" "$DROOT/dockerd.pid"
  svc_spawn "$RUN" dockerd "$DROOT/dockerd.log" "$(command -v dockerd)" --host "unix://$SOCK" \
    --data-root "$DROOT/data" --exec-root "$DROOT/exec" --pidfile "$DROOT/dockerd.pid"
  svc_wait 60 docker_ok || { tail -n 20 "$DROOT/dockerd.log" >&2; svc_die "dockerd did not answer within 60 s"; }
  svc_log "dockerd up on $SOCK"
}

# start_registry NAME PORT [htpasswd-file]
start_registry() {
  local name=$1 port=$2 htpasswd=${3:-} dir="$RROOT/$1"
  reg_ok "$port" && return 0
  mkdir -p "$dir/data"
  {
    printf 'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$dir/data"
    printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
    if [[ -n "$htpasswd" ]]; then printf 'auth:\n  htpasswd:\n    realm: mll\n    path: %s\n' "$htpasswd"; fi
  } > "$dir/config.yml"
  svc_spawn "$RUN" "$name" "$dir/registry.log" "$(command -v docker-registry)" serve "$dir/config.yml"
  svc_wait 30 reg_ok "$port" || { tail -n 20 "$dir/registry.log" >&2; svc_die "$name did not answer on :$port"; }
  svc_log "$name up on 127.0.0.1:$port"
}

build_base() {
  local runtime=$1 tag="mll/runtime-$1:dev" remote="127.0.0.1:$REG_PORT/mll/runtime-$1:dev" ctx
  local dk=("$DOCKER" -H "unix://$SOCK")
  if ! "${dk[@]}" image inspect "$remote" >/dev/null 2>&1; then
    ctx=$(mktemp -d "$DROOT/base.XXXXXX")
    mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp"
    cp /bin/busybox "$ctx/rootfs/bin/busybox"
    ln -s busybox "$ctx/rootfs/bin/sh"
    for tool in cat ls sha256sum find stat; do ln -s busybox "$ctx/rootfs/bin/$tool"; done
    chmod 1777 "$ctx/rootfs/tmp"
    printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nLABEL ai.mll.runtime="%s" ai.mll.stand-in="true"\nCMD ["/bin/sh"]\n' "$runtime" > "$ctx/Dockerfile"
    "${dk[@]}" build -q -t "$tag" -t "$remote" "$ctx" >&2
    rm -rf "$ctx"
  fi
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$REG_PORT/v2/mll/runtime-$runtime/manifests/dev")
  if [[ "$code" != 200 ]]; then
    svc_log "pushing $remote"
    "${dk[@]}" push "$remote" >/dev/null
  fi
}

print_env() {
  cat <<ENV
export DOCKER_HOST=unix://$SOCK
export MLL_TEST_REGISTRY=127.0.0.1:$REG_PORT
export MLL_TEST_REGISTRY_AUTH=127.0.0.1:$AUTH_PORT
export MLL_TEST_REGISTRY_USER=$REG_USER
export MLL_TEST_REGISTRY_PASSWORD=$REG_PASS
export MLL_TEST_BASE_PYTHON=127.0.0.1:$REG_PORT/mll/runtime-python:3.11
export MLL_TEST_BASE_PYTHON_SKLEARN=127.0.0.1:$REG_PORT/mll/runtime-python-sklearn:3.11
export MLL_TEST_BASE_TENSORFLOW=127.0.0.1:$REG_PORT/mll/runtime-tensorflow:dev
ENV
}

what=${2:-all}
case "${1:-start}" in
  start)
    svc_apt docker.io docker-registry busybox-static skopeo curl apache2-utils
    mkdir -p "$RUN" "$RROOT/registry-auth"
    [[ -s "$RROOT/registry-auth/htpasswd" ]] || htpasswd -Bbc "$RROOT/registry-auth/htpasswd" "$REG_USER" "$REG_PASS" 2>/dev/null
    [[ $what == all || $what == dockerd ]] && start_dockerd
    [[ $what == all || $what == registry ]] && start_registry registry "$REG_PORT"
    [[ $what == all || $what == registry-auth ]] && start_registry registry-auth "$AUTH_PORT" "$RROOT/registry-auth/htpasswd"
    if [[ $what == all ]]; then MLL_SERVICES_DIR="$ROOT" bash "$(dirname "$0")/runtimes.sh" build >&2; build_base tensorflow; fi
    print_env ;;
  stop)
    for name in registry-auth registry dockerd; do
      [[ $what == all || $what == "$name" ]] && svc_stop "$RUN" "$name"
    done ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env [dockerd|registry|registry-auth|all]" >&2; exit 2 ;;
esac
