#!/usr/bin/env bash
# s3.sh start|stop - a local S3-compatible object store for the tests and benchmarks.
#
# OpenStack Swift from Debian's packages as a single-node store: the proxy runs the s3api and
# tempauth middleware on 127.0.0.1:$S3_PORT; account/container/object servers and a private
# memcached listen on $S3_SWIFT_PORT_BASE+0..3. Rings have one replica and one device.
# `start` is idempotent and prints `export S3_...` lines on stdout (progress on stderr):
#     eval "$(bash scripts/services/s3.sh start)"
# Env: MLL_SERVICES_DIR (/tmp/mll-services), S3_PORT (9000), S3_SWIFT_PORT_BASE (6210),
#      S3_ACCESS_KEY (mll:admin, must be ACCOUNT:USER), S3_SECRET_KEY (mll-secret-key), S3_REGION (us-east-1)
set -euo pipefail
SVC_NAME=s3
. "$(dirname "$0")/lib.sh"

ROOT="${MLL_SERVICES_DIR:-/tmp/mll-services}/s3"
S3_PORT=${S3_PORT:-9000}
BASE=${S3_SWIFT_PORT_BASE:-6210}
S3_ACCESS_KEY=${S3_ACCESS_KEY:-mll:admin}
S3_SECRET_KEY=${S3_SECRET_KEY:-mll-secret-key}
S3_REGION=${S3_REGION:-us-east-1}
OBJ_PORT=$BASE; CONT_PORT=$((BASE + 1)); ACCT_PORT=$((BASE + 2)); MC_PORT=$((BASE + 3))
HOST=127.0.0.1
ETC="$ROOT/etc"; SRV="$ROOT/srv"; RUN="$ROOT/run"; LOG="$ROOT/log"
ACCOUNT=${S3_ACCESS_KEY%%:*}; USER_=${S3_ACCESS_KEY#*:}
SERVERS="memcache account container object proxy"

[[ "$S3_ACCESS_KEY" == *:* && "$ACCOUNT$USER_" =~ ^[a-z0-9-]+$ ]] \
  || svc_die "S3_ACCESS_KEY must be ACCOUNT:USER with a-z, 0-9, '-' (Swift tempauth)"

ready() {
  local hdrs token url
  hdrs=$(curl -s -m 5 -D - -o /dev/null -H "X-Auth-User: $S3_ACCESS_KEY" -H "X-Auth-Key: $S3_SECRET_KEY" \
    "http://$HOST:$S3_PORT/auth/v1.0" 2>/dev/null) || return 1
  token=$(printf '%s\n' "$hdrs" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token"{print $2}')
  url=$(printf '%s\n' "$hdrs" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-storage-url"{print $2}')
  [[ -n "$token" && -n "$url" ]] || return 1
  [[ $(curl -s -m 5 -o /dev/null -w '%{http_code}' -I -H "X-Auth-Token: $token" "$url") == 2?? ]]
}

# write FILE (from stdin) and remember whether it changed, so only affected servers restart
CHANGED=""
put_conf() {
  local dest="$1" server="$2" tmp="$1.tmp"
  cat > "$tmp"; chmod 600 "$tmp"
  if [[ -f "$dest" ]] && cmp -s "$tmp" "$dest"; then rm -f "$tmp"; else mv -f "$tmp" "$dest"; CHANGED="$CHANGED $server"; fi
}

write_configs() {
  mkdir -p "$ETC" "$SRV/d1" "$RUN" "$LOG" "$ROOT/lib"
  if ! { [[ -f /etc/swift/swift.conf ]] && grep -q '^swift_hash_path_\(suffix\|prefix\)' /etc/swift/swift.conf; }; then
    mkdir -p /etc/swift
    printf '[swift-hash]\nswift_hash_path_suffix = changeme\nswift_hash_path_prefix = changeme\n\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n' \
      > /etc/swift/swift.conf
  fi
  local me common kind port
  me=$(id -un)
  common="swift_dir = $ETC
devices = $SRV
mount_check = false
disable_fallocate = true
bind_ip = $HOST
user = $me
workers = 0
log_level = WARNING
network_chunk_size = 1048576
disk_chunk_size = 1048576"
  for kind in account container object; do
    case $kind in account) port=$ACCT_PORT ;; container) port=$CONT_PORT ;; object) port=$OBJ_PORT ;; esac
    put_conf "$ETC/$kind-server.conf" "$kind" <<CONF
[DEFAULT]
$common
bind_port = $port
log_name = $kind-server

[pipeline:main]
pipeline = $kind-server

[app:$kind-server]
use = egg:swift#$kind
CONF
  done
  # s3api must come before tempauth; slo carries multipart uploads.
  put_conf "$ETC/proxy-server.conf" proxy <<CONF
[DEFAULT]
swift_dir = $ETC
bind_ip = $HOST
bind_port = $S3_PORT
user = $me
workers = 0
log_name = proxy-server
log_level = WARNING
client_timeout = 120

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats mll_uploads_delimiter s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
object_chunk_size = 1048576
client_chunk_size = 1048576

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = $HOST:$MC_PORT
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:mll_uploads_delimiter]
paste.filter_factory = mll_uploads_delimiter:filter_factory
[filter:s3api]
use = egg:swift#s3api
location = $S3_REGION
max_upload_part_num = 10000
max_bucket_listing = 1000
allowable_clock_skew = 900
[filter:tempauth]
use = egg:swift#tempauth
user_${ACCOUNT}_${USER_} = $S3_SECRET_KEY .admin
token_life = 86400
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000
max_manifest_size = 16777216
[filter:dlo]
use = egg:swift#dlo
CONF
  # Swift 2.30's s3api treats an empty `delimiter=` on ListMultipartUploads as a real delimiter;
  # minio-js sends one when it lists or removes incomplete uploads. S3 treats it as none: drop it.
  put_conf "$ROOT/lib/mll_uploads_delimiter.py" proxy <<'PY'
import functools
from swift.common.middleware.s3api.controllers import multi_upload

_get = multi_upload.UploadsController.GET


@functools.wraps(_get)
def _get_without_empty_delimiter(self, req):
    if req.params.get('delimiter', None) == '':
        qs = req.environ.get('QUERY_STRING', '')
        req.environ['QUERY_STRING'] = '&'.join(p for p in qs.split('&') if p not in ('delimiter', 'delimiter='))
        req._params_cache = None
    return _get(self, req)


if not getattr(multi_upload.UploadsController.GET, '_mll', False):
    _get_without_empty_delimiter._mll = True
    multi_upload.UploadsController.GET = _get_without_empty_delimiter


def filter_factory(global_conf, **local_conf):
    return lambda app: app
PY
  local stamp="$HOST:$ACCT_PORT,$CONT_PORT,$OBJ_PORT"
  if [[ ! -f "$ETC/object.ring.gz" || "$(cat "$ETC/rings.stamp" 2>/dev/null)" != "$stamp" ]]; then
    svc_log "building rings"
    /usr/bin/python3 - "$ETC" "$HOST" "$ACCT_PORT" "$CONT_PORT" "$OBJ_PORT" >&2 <<'PY'
import os, sys
from swift.common.ring import RingBuilder
etc, host = sys.argv[1], sys.argv[2]
for kind, port in zip(('account', 'container', 'object'), map(int, sys.argv[3:6])):
    b = RingBuilder(10, 1, 1)
    b.add_dev({'region': 1, 'zone': 1, 'ip': host, 'port': port, 'replication_ip': host,
               'replication_port': port, 'device': 'd1', 'weight': 1.0, 'meta': ''})
    b.rebalance()
    ring = os.path.join(etc, kind + '.ring.gz')
    b.get_ring().save(ring + '.tmp')
    os.rename(ring + '.tmp', ring)
PY
    echo "$stamp" > "$ETC/rings.stamp"
    CHANGED="$CHANGED account container object proxy"
  fi
}

start_one() {
  local name=$1
  svc_alive "$RUN" "$name" && return 0
  case $name in
    memcache) svc_spawn "$RUN" "$name" "$LOG/$name.log" "$(command -v memcached)" -l "$HOST" -p "$MC_PORT" -U 0 -m 64 -u "$(id -un)" ;;
    *) PYTHONPATH="$ROOT/lib" svc_spawn "$RUN" "$name" "$LOG/$name.log" "$(command -v "swift-$name-server")" "$ETC/$name-server.conf" ;;
  esac
  svc_log "started $name (pid $(cat "$RUN/$name.pid"))"
}

print_env() {
  cat <<ENV
export S3_ENDPOINT=http://$HOST:$S3_PORT
export S3_ACCESS_KEY=$S3_ACCESS_KEY
export S3_SECRET_KEY=$S3_SECRET_KEY
export S3_REGION=$S3_REGION
ENV
}

case "${1:-start}" in
  start)
    svc_apt swift swift-proxy swift-object swift-container swift-account memcached curl
    write_configs
    for s in $(tr ' ' '\n' <<<"$CHANGED" | sort -u); do svc_stop "$RUN" "$s"; done
    for s in $SERVERS; do start_one "$s"; done
    svc_wait 60 ready || { tail -n 20 "$LOG"/*.log >&2; svc_die "S3 store not ready after 60 s (logs in $LOG)"; }
    svc_log "ready at http://$HOST:$S3_PORT"
    print_env ;;
  stop)
    for s in proxy object container account memcache; do svc_stop "$RUN" "$s"; done ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
