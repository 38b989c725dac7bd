# Shared helpers for the service scripts. Sourced, never run.
# Every process a script starts is recorded as NAME.pid + NAME.cmd under a run dir;
# stop scripts signal a pid only while its command line still matches (guards pid reuse).

svc_log() { printf '[%s] %s\n' "${SVC_NAME:-services}" "$*" >&2; }
svc_die() { svc_log "ERROR: $*"; exit 1; }

# svc_alive RUN NAME: the recorded pid runs the recorded command
svc_alive() {
  local run="$1" name="$2" pid want cmd st
  [[ -s "$run/$name.pid" && -s "$run/$name.cmd" ]] || return 1
  pid=$(cat "$run/$name.pid"); want=$(cat "$run/$name.cmd")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n "$st" && "$st" != Z ]] || return 1
  cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmd" == *"$want"* ]]
}

# svc_spawn RUN NAME LOGFILE CMD...: start CMD in its own session, record pid and command
svc_spawn() {
  local run="$1" name="$2" logf="$3"; shift 3
  mkdir -p "$run" "$(dirname "$logf")"
  setsid "$@" </dev/null >>"$logf" 2>&1 &
  echo $! > "$run/$name.pid"
  echo "$*" > "$run/$name.cmd"
}

# svc_stop RUN NAME: TERM (then KILL after 30 s) the recorded process group
svc_stop() {
  local run="$1" name="$2" pid
  if ! svc_alive "$run" "$name"; then rm -f "$run/$name.pid" "$run/$name.cmd"; return 0; fi
  pid=$(cat "$run/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do svc_alive "$run" "$name" || break; sleep 0.1; done
  if svc_alive "$run" "$name"; then
    svc_log "$name (pid $pid) ignored SIGTERM; SIGKILL to its group"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$run/$name.pid" "$run/$name.cmd"
  svc_log "stopped $name (pid $pid)"
}

# svc_wait SECONDS CHECK-CMD...: poll until CHECK succeeds
svc_wait() {
  local secs="$1"; shift
  local deadline=$(( $(date +%s) + secs ))
  until "$@"; do
    [[ $(date +%s) -lt $deadline ]] || return 1
    sleep 0.2
  done
}

# svc_apt PKG...: install the Debian packages that are missing, without starting their services
svc_apt() {
  local need=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  ((${#need[@]})) || return 0
  [[ $EUID -eq 0 ]] || svc_die "need root to install Debian packages: ${need[*]}"
  svc_log "installing Debian packages: ${need[*]}"
  local policy_made=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; policy_made=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local ok=0
  if ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 \
     && apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${need[@]}" >&2; then
    ok=1
  else
    apt-get -o DPkg::Lock::Timeout=300 update -q >&2 \
      && apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${need[@]}" >&2 && ok=1
  fi
  [[ $policy_made == 1 ]] && rm -f /usr/sbin/policy-rc.d
  [[ $ok == 1 ]] || svc_die "apt-get install failed for: ${need[*]}"
}
