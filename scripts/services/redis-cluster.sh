#!/usr/bin/env bash
# redis-cluster.sh start|stop|env [cluster|sentinel|all] - Redis topologies for the tests, from
# Debian's redis-server on loopback ports, each process in its own dir and session:
#
#   cluster   3 masters + 3 replicas (Redis Cluster) on ports BASE..BASE+5 (bus ports +10000)
#   sentinel  1 master (SBASE) + 1 replica (SBASE+1) + 3 sentinels (SBASE+10..SBASE+12),
#             monitoring the master as "mll"
#
# `start` is idempotent (a healthy topology is left alone; a broken one is rebuilt from scratch,
# as it holds only test data) and prints `export ...` lines on stdout (progress on stderr).
# Env: MLL_SERVICES_DIR (/tmp/mll-services), MLL_REDIS_CLUSTER_PORT (7000),
#      MLL_REDIS_SENTINEL_PORT (7100), MLL_REDIS_NODE_TIMEOUT_MS (2000: cluster-node-timeout and
#      the sentinels' down-after-milliseconds; failover takes about this plus a second).
# Fault tests start private copies (their own MLL_SERVICES_DIR and ports) and kill nodes by the
# pids recorded under $MLL_SERVICES_DIR/run/redis-*.pid.
set -euo pipefail
SVC_NAME=redis-cluster
. "$(dirname "$0")/lib.sh"

ROOT="${MLL_SERVICES_DIR:-/tmp/mll-services}"
RUN="$ROOT/run"
CDIR="$ROOT/redis-cluster"; SDIR="$ROOT/redis-sentinel"
BASE=${MLL_REDIS_CLUSTER_PORT:-7000}
SBASE=${MLL_REDIS_SENTINEL_PORT:-7100}
TIMEOUT_MS=${MLL_REDIS_NODE_TIMEOUT_MS:-2000}
CLUSTER_PORTS=$(seq "$BASE" $((BASE + 5)))
SENTINEL_PORTS="$((SBASE + 10)) $((SBASE + 11)) $((SBASE + 12))"

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}" 2>/dev/null; }
answers() { [[ $(cli "$1" ping) == PONG ]]; }

# node_conf DIR PORT EXTRA...: a redis.conf whose path shows in the process title (svc_alive matches it)
node_conf() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  {
    printf 'port %s\nbind 127.0.0.1\nprotected-mode no\ndir %s\nsave ""\nappendonly no\n' "$port" "$dir"
    printf 'proc-title-template "{title} {config-file} {listen-addr} {server-mode}"\n'
    printf '%s\n' "$@"
  } > "$dir/redis.conf"
}

spawn_node() { # NAME DIR [ARGS...]
  local name=$1 dir=$2 bin; shift 2
  bin=$(command -v redis-server)
  svc_spawn "$RUN" "$name" "$dir/redis.log" "$bin" "$dir/redis.conf" "$@"
  # What the process title keeps once Redis has set it (extra arguments such as --sentinel go).
  echo "$bin $dir/redis.conf" > "$RUN/$name.cmd"
}

cluster_ok() {
  local p
  for p in $CLUSTER_PORTS; do
    answers "$p" || return 1
    cli "$p" cluster info | grep -q 'cluster_state:ok' || return 1
  done
  [[ $(cli "$BASE" cluster nodes | grep -c master) == 3 ]]
}

stop_cluster() {
  local p
  for p in $CLUSTER_PORTS; do svc_stop "$RUN" "redis-$p"; done
}

start_cluster() {
  if cluster_ok; then svc_log "cluster already running on 127.0.0.1:$BASE-$((BASE + 5))"; return 0; fi
  stop_cluster
  rm -rf "$CDIR"
  local p nodes=()
  for p in $CLUSTER_PORTS; do
    node_conf "$CDIR/$p" "$p" 'cluster-enabled yes' "cluster-config-file $CDIR/$p/nodes.conf" \
      "cluster-node-timeout $TIMEOUT_MS" 'cluster-replica-validity-factor 0' 'appendfsync no'
    spawn_node "redis-$p" "$CDIR/$p"
    nodes+=("127.0.0.1:$p")
  done
  for p in $CLUSTER_PORTS; do svc_wait 20 answers "$p" || svc_die "redis on :$p did not start (see $CDIR/$p/redis.log)"; done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$CDIR/create.log" 2>&1 \
    || { cat "$CDIR/create.log" >&2; svc_die "redis-cli --cluster create failed"; }
  svc_wait 30 cluster_ok || svc_die "the cluster did not reach cluster_state:ok"
  svc_log "cluster up: 3 masters + 3 replicas on 127.0.0.1:$BASE-$((BASE + 5))"
}

# sentinel_field PORT FIELD: one field of what a sentinel knows about the master "mll"
sentinel_field() { cli "$1" sentinel master mll | awk -v f="$2" 'NR % 2 { k = $0; next } k == f { print }'; }

# Ready for a failover only once every sentinel has learnt of the replica (from the master's INFO,
# which it asks for every 10 s) and of the other two sentinels (for the vote): a master killed
# before that has no replica the sentinels could promote, ever. And only once the replica holds the
# master's data (its link is up): a replica still waiting for its first sync is promoted empty.
sentinel_ok() {
  local p
  answers "$SBASE" && answers "$((SBASE + 1))" || return 1
  for p in $SENTINEL_PORTS; do
    answers "$p" || return 1
    [[ $(cli "$p" sentinel get-master-addr-by-name mll | head -1) == 127.0.0.1 ]] || return 1
    [[ $(sentinel_field "$p" num-slaves) -ge 1 && $(sentinel_field "$p" num-other-sentinels) -ge 2 ]] || return 1
  done
  local replica
  for replica in "$((SBASE + 1))" "$SBASE"; do
    cli "$replica" info replication | grep -q 'master_link_status:up' && return 0
  done
  return 1
}

stop_sentinel() {
  local p
  for p in $SENTINEL_PORTS "$SBASE" "$((SBASE + 1))"; do svc_stop "$RUN" "redis-$p"; done
}

start_sentinel() {
  if sentinel_ok; then svc_log "sentinel setup already running (master 127.0.0.1:$SBASE)"; return 0; fi
  stop_sentinel
  rm -rf "$SDIR"
  # No 5 s wait before the first (diskless) sync: the replica is in sync as soon as it can be.
  node_conf "$SDIR/$SBASE" "$SBASE" 'repl-diskless-sync-delay 0'
  node_conf "$SDIR/$((SBASE + 1))" "$((SBASE + 1))" "replicaof 127.0.0.1 $SBASE" 'repl-diskless-sync-delay 0'
  spawn_node "redis-$SBASE" "$SDIR/$SBASE"
  spawn_node "redis-$((SBASE + 1))" "$SDIR/$((SBASE + 1))"
  local p
  for p in $SENTINEL_PORTS; do
    # Sentinel rewrites its own config file (known replicas, epochs), so each has its own.
    node_conf "$SDIR/$p" "$p" "sentinel monitor mll 127.0.0.1 $SBASE 2" \
      "sentinel down-after-milliseconds mll $TIMEOUT_MS" 'sentinel failover-timeout mll 10000' 'sentinel parallel-syncs mll 1'
    spawn_node "redis-$p" "$SDIR/$p" --sentinel
  done
  svc_wait 45 sentinel_ok || svc_die "the sentinel setup did not come up (see $SDIR/*/redis.log)"
  svc_log "sentinel setup up: master 127.0.0.1:$SBASE, replica :$((SBASE + 1)), sentinels :${SENTINEL_PORTS// /, :}"
}

print_env() {
  local what=$1
  if [[ $what == cluster || $what == all ]]; then
    echo "export MLL_TEST_REDIS_CLUSTER=redis+cluster://127.0.0.1:$BASE,127.0.0.1:$((BASE + 1)),127.0.0.1:$((BASE + 2))"
  fi
  if [[ $what == sentinel || $what == all ]]; then
    echo "export MLL_TEST_REDIS_SENTINEL=redis+sentinel://127.0.0.1:$((SBASE + 10)),127.0.0.1:$((SBASE + 11)),127.0.0.1:$((SBASE + 12))?name=mll"
  fi
}

cmd=${1:-start}; what=${2:-cluster}
[[ $what =~ ^(cluster|sentinel|all)$ ]] || svc_die "unknown topology '$what' (cluster, sentinel or all)"
case "$cmd" in
  start)
    svc_apt redis-server redis-tools
    if [[ $what != sentinel ]]; then start_cluster; fi
    if [[ $what != cluster ]]; then start_sentinel; fi
    print_env "$what"
    ;;
  stop)
    if [[ $what != sentinel ]]; then stop_cluster; fi
    if [[ $what != cluster ]]; then stop_sentinel; fi
    ;;
  env) print_env "$what" ;;
  *) svc_die "usage: $0 start|stop|env [cluster|sentinel|all]" ;;
esac
