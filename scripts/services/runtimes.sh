#!/usr/bin/env bash
# runtimes.sh [build|rebuild] - ML Lambda's Python runtime base images, made from Debian packages without
# a Docker daemon or a hub, and pushed to the local registry:
#
#   $REG/mll/runtime-python:3.11          debootstrap --variant=minbase bookworm + python3, python3-grpcio,
#                                         python3-protobuf, python3-numpy, python3-pip; the runtime in /app
#   $REG/mll/runtime-python-sklearn:3.11  the same + python3-sklearn (one more layer on the same base layer)
#
# Layers, each cached under $MLL_SERVICES_DIR/runtimes by a hash of its inputs (this script, the package
# lists, the runtime's sources), so a second run with nothing changed takes seconds and a change to
# runtimes/python/app rebuilds only the small /app layer:
#   debian   the minbase root filesystem with the packages
#   sklearn  what installing python3-sklearn changed (an overlayfs upper dir, whiteouts in OCI form)
#   runtime  /app/start.sh and /app/src (runtimes/python/app)
# Reproducible: the file systems are normalised (no apt lists, caches, logs, machine-id, resolv.conf,
# device nodes or docs; password ages fixed) and packed as sorted tars with numeric owners, mtimes
# clamped to SOURCE_DATE_EPOCH (default: the date of Debian's Release file) and gzip -n, so two builds
# give the same layer digests as long as Debian's packages did not change. `rebuild` ignores the cache
# (to pick up Debian updates, or to check that). Images are written as an OCI layout and copied to the
# registry with skopeo (digests preserved); a tag already pointing at the same manifest is left alone.
# Env: MLL_SERVICES_DIR (/tmp/mll-services), MLL_REGISTRY_PORT (5000), MLL_DEBIAN_MIRROR, SOURCE_DATE_EPOCH.
set -euo pipefail
SVC_NAME=runtimes
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

REPO=$(cd "$here/../.." && pwd)
RUNTIME_SRC="$REPO/runtimes/python"
CACHE="${MLL_SERVICES_DIR:-/tmp/mll-services}/runtimes"
REG="127.0.0.1:${MLL_REGISTRY_PORT:-5000}"
MIRROR="${MLL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
PYTHON=3.11
BASE_PACKAGES=(python3 python3-grpcio python3-protobuf python3-numpy python3-pip)
SKLEARN_PACKAGES=(python3-sklearn)
# Docs, man pages and translations are dropped (copyright files kept), here and for later installs.
DPKG_EXCLUDES='path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*/*
path-exclude=/usr/share/lintian/*'

hash_of() { sha256sum | cut -c1-16; }
SCRIPT_HASH=$(cat "$0" "$here/lib.sh" | hash_of)

# normalise ROOTFS EPOCH: drop what differs between two builds or has no place in an image
normalise() {
  local r=$1 epoch=$2
  find "$r/var/lib/apt/lists" "$r/var/cache/apt" "$r/var/log" -mindepth 1 ! -type d -delete 2>/dev/null || true
  find "$r/tmp" "$r/dev" -mindepth 1 -delete 2>/dev/null || true
  rm -f "$r"/var/lib/dpkg/*-old "$r"/var/cache/debconf/*-old "$r"/etc/*- "$r/var/cache/ldconfig/aux-cache" \
    "$r/etc/machine-id" "$r/etc/resolv.conf" "$r/etc/hostname" "$r/etc/.pwd.lock" "$r/var/lib/dpkg/lock"
  find "$r/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  find "$r/usr/share/man" "$r/usr/share/info" "$r/usr/share/lintian" -mindepth 1 -delete 2>/dev/null || true
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} + 2>/dev/null || true
  # The day of the last password change is the build day unless fixed (rewritten only when it differs,
  # so an overlay upper dir does not get a copy of an unchanged file).
  local f="$r/etc/shadow"
  awk -F: -v OFS=: -v d="$((epoch / 86400))" '$3 != "" { $3 = d } { print }' "$f" > "$f.new"
  if cmp -s "$f" "$f.new"; then rm -f "$f.new"; else cat "$f.new" > "$f"; rm -f "$f.new"; fi
}

# pack DIR OUT EPOCH: OUT/layer.tar.gz with OUT/{diffid,digest,size}
pack() {
  local dir=$1 out=$2 epoch=$3
  mkdir -p "$out"
  tar --create --format=gnu --sort=name --numeric-owner --mtime="@$epoch" --clamp-mtime \
      --one-file-system -C "$dir" . | gzip -n -6 > "$out/layer.tar.gz.tmp"
  gzip -dc "$out/layer.tar.gz.tmp" | sha256sum | cut -d' ' -f1 > "$out/diffid"
  sha256sum "$out/layer.tar.gz.tmp" | cut -d' ' -f1 > "$out/digest"
  stat -c %s "$out/layer.tar.gz.tmp" > "$out/size"
  mv "$out/layer.tar.gz.tmp" "$out/layer.tar.gz"
}

layer_ok() { [[ -s $1/digest && -s $1/diffid && -s $1/layer.tar.gz ]]; }

release_epoch() {
  local r=$1 date
  [[ -n ${SOURCE_DATE_EPOCH:-} ]] && { echo "$SOURCE_DATE_EPOCH"; return; }
  date=$(grep -m1 -h '^Date:' "$r"/var/lib/apt/lists/*_InRelease "$r"/var/lib/apt/lists/*_Release 2>/dev/null | head -n1 | cut -d' ' -f2-)
  [[ -n $date ]] || svc_die "no Release file in $r to take SOURCE_DATE_EPOCH from"
  date -u -d "$date" +%s
}

build_debian() {
  local key dir
  key=$(printf '%s\n' "$SCRIPT_HASH" "$SUITE" "$MIRROR" "${BASE_PACKAGES[@]}" | hash_of)
  dir="$CACHE/debian-$key"; DEBIAN_DIR=$dir
  if [[ $REBUILD == 0 ]] && layer_ok "$dir/layer"; then return 0; fi
  fresh_dir "$dir"; mkdir -p "$CACHE/debs"
  svc_log "debootstrap $SUITE (minbase + ${BASE_PACKAGES[*]}) from $MIRROR"
  local include; include=$(IFS=,; echo "${BASE_PACKAGES[*]}")
  debootstrap --variant=minbase --include="$include" --cache-dir="$CACHE/debs" "$SUITE" "$dir/rootfs" "$MIRROR" \
    > "$dir/debootstrap.log" 2>&1 || { tail -n 20 "$dir/debootstrap.log" >&2; svc_die "debootstrap failed (log: $dir/debootstrap.log)"; }
  local python; python=$(readlink "$dir/rootfs/usr/bin/python3")
  [[ $python == "python$PYTHON" ]] || svc_die "Debian $SUITE gave $python, not python$PYTHON: update PYTHON in $0"
  release_epoch "$dir/rootfs" > "$dir/epoch"
  printf '%s\n' "$DPKG_EXCLUDES" > "$dir/rootfs/etc/dpkg/dpkg.cfg.d/01-mll-slim"
  normalise "$dir/rootfs" "$(cat "$dir/epoch")"
  svc_log "packing the Debian layer"
  pack "$dir/rootfs" "$dir/layer" "$(cat "$dir/epoch")"
}

# Installs packages on top of the Debian root through overlayfs: the upper dir is exactly the change.
build_sklearn() {
  local key dir
  key=$(printf '%s\n' "$DEBIAN_DIR" "$(cat "$DEBIAN_DIR/layer/digest")" "${SKLEARN_PACKAGES[@]}" | hash_of)
  dir="$CACHE/sklearn-$key"; SKLEARN_DIR=$dir
  if [[ $REBUILD == 0 ]] && layer_ok "$dir/layer"; then return 0; fi
  fresh_dir "$dir"; mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
  local m="$dir/merged" epoch; epoch=$(cat "$DEBIAN_DIR/epoch")
  mount -t overlay overlay -o "lowerdir=$DEBIAN_DIR/rootfs,upperdir=$dir/upper,workdir=$dir/work" "$m"
  MOUNTS=("$m" "${MOUNTS[@]}")
  mount -t proc proc "$m/proc"; MOUNTS=("$m/proc" "${MOUNTS[@]}")
  mount --bind /dev "$m/dev"; MOUNTS=("$m/dev" "${MOUNTS[@]}")
  mkdir -p "$m/var/cache/apt/archives"
  mount --bind "$CACHE/debs" "$m/var/cache/apt/archives"; MOUNTS=("$m/var/cache/apt/archives" "${MOUNTS[@]}")
  cp /etc/resolv.conf "$m/etc/resolv.conf"
  svc_log "installing ${SKLEARN_PACKAGES[*]} on the Debian layer"
  { chroot "$m" apt-get update -q && DEBIAN_FRONTEND=noninteractive chroot "$m" apt-get install -y -q --no-install-recommends "${SKLEARN_PACKAGES[@]}"; } \
    > "$dir/apt.log" 2>&1 || { tail -n 20 "$dir/apt.log" >&2; unmount_all; svc_die "installing ${SKLEARN_PACKAGES[*]} failed (log: $dir/apt.log)"; }
  unmount_all
  mount -t overlay overlay -o "lowerdir=$DEBIAN_DIR/rootfs,upperdir=$dir/upper,workdir=$dir/work" "$m"; MOUNTS=("$m")
  normalise "$m" "$epoch"
  unmount_all
  oci_whiteouts "$dir/upper"
  svc_log "packing the sklearn layer"
  pack "$dir/upper" "$dir/layer" "$epoch"
  rm -rf --one-file-system "$dir/work" "$dir/merged"
}

# overlayfs marks a deleted file with a 0/0 character device and a replaced dir with an xattr; OCI
# layers use .wh.<name> files and .wh..wh..opq instead.
oci_whiteouts() {
  local upper=$1 f
  while IFS= read -r -d '' f; do
    [[ $(stat -c '%t:%T' "$f") == 0:0 ]] || svc_die "unexpected device node $f in the layer"
    rm -f "$f"; : > "$(dirname "$f")/.wh.$(basename "$f")"
  done < <(find "$upper" -type c -print0)
  while IFS= read -r -d '' f; do
    [[ $(getfattr --only-values -n trusted.overlay.opaque "$f" 2>/dev/null) == y ]] && : > "$f/.wh..wh..opq"
  done < <(find "$upper" -type d -print0)
  return 0
}

build_runtime() {
  local key dir
  key=$( { echo "$SCRIPT_HASH"; cat "$DEBIAN_DIR/epoch"; cd "$RUNTIME_SRC" && find app start.sh -name '*.py' -o -name start.sh | LC_ALL=C sort | xargs sha256sum; } | hash_of)
  dir="$CACHE/runtime-$key"; RUNTIME_DIR=$dir
  if layer_ok "$dir/layer"; then return 0; fi
  fresh_dir "$dir"; mkdir -p "$dir/root/app/src"
  (cd "$RUNTIME_SRC/app" && find . -name '*.py' -print0 | LC_ALL=C sort -z | xargs -0 -I{} cp --parents {} "$dir/root/app/src/")
  cp "$RUNTIME_SRC/start.sh" "$dir/root/app/start.sh"
  find "$dir/root" -type d -exec chmod 755 {} + ; find "$dir/root" -type f -exec chmod 644 {} +
  chmod 755 "$dir/root/app/start.sh"
  chown -R 0:0 "$dir/root"
  pack "$dir/root" "$dir/layer" "$(cat "$DEBIAN_DIR/epoch")"
}

MOUNTS=()
# fresh_dir DIR: an empty DIR, after unmounting whatever an interrupted run left mounted under it
# (rm must never follow a bind mount of /dev or /proc into the host).
fresh_dir() {
  local m
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rn -o TARGET | grep -F "$1/" | sort -r)
  rm -rf --one-file-system "$1"
  mkdir -p "$1"
}

unmount_all() {
  local m
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  MOUNTS=()
}

blob() { # blob LAYOUT FILE DIGEST
  local path="$1/blobs/sha256/$3"
  [[ -e $path ]] || ln "$2" "$path" 2>/dev/null || cp "$2" "$path"
}

# image NAME VARIANT LAYER-DIRS...: writes the OCI layout entry and pushes it unless the registry has it
image() {
  local name=$1 variant=$2; shift 2
  local layout="$CACHE/oci" epoch created layers=() diffids=() history=() d config cdigest csize manifest mdigest msize
  mkdir -p "$layout/blobs/sha256"
  [[ -f $layout/oci-layout ]] || printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
  epoch=$(cat "$DEBIAN_DIR/epoch"); created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  for d in "$@"; do
    blob "$layout" "$d/layer/layer.tar.gz" "$(cat "$d/layer/digest")"
    layers+=("$(jq -cn --arg d "sha256:$(cat "$d/layer/digest")" --argjson s "$(cat "$d/layer/size")" \
      '{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip",digest:$d,size:$s}')")
    diffids+=("sha256:$(cat "$d/layer/diffid")")
    history+=("$(jq -cn --arg c "$created" --arg b "$(basename "$d" | sed 's/-[0-9a-f]*$//') layer (scripts/services/runtimes.sh)" '{created:$c,created_by:$b}')")
  done
  config=$(jq -cnS --arg created "$created" --arg py "$PYTHON" --arg variant "$variant" --arg name "$name" \
    --argjson diffids "$(printf '%s\n' "${diffids[@]}" | jq -R . | jq -cs .)" \
    --argjson history "$(printf '%s\n' "${history[@]}" | jq -cs .)" '{
      architecture: "amd64", os: "linux", created: $created,
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "PYTHONUNBUFFERED=1",
              "APP_PORT=9090", "HTTP_PORT=9091", "SIDECAR_PORT=8080", "SIDECAR_HOST=localhost", "MODEL_DIR=/model"],
        Cmd: ["/app/start.sh"], WorkingDir: "/app/src",
        ExposedPorts: {"9090/tcp": {}, "9091/tcp": {}},
        Labels: ({
          "DEPLOYMENT_TYPE": "APP",
          "ai.mll.runtime": "python",
          "ai.mll.runtime.python": $py,
          "ai.mll.runtime.platform": "linux/amd64",
          "org.opencontainers.image.title": ("mll/" + $name),
          "org.opencontainers.image.description": "ML Lambda Python runtime: gRPC PredictionService on APP_PORT, Open Inference Protocol HTTP on HTTP_PORT",
          "org.opencontainers.image.created": $created
        } + (if $variant == "" then {} else {"ai.mll.runtime.variant": $variant} end))
      },
      rootfs: {type: "layers", diff_ids: $diffids},
      history: $history
    }')
  printf '%s' "$config" > "$CACHE/config.tmp"
  cdigest=$(sha256sum "$CACHE/config.tmp" | cut -d' ' -f1); csize=$(stat -c %s "$CACHE/config.tmp")
  mv "$CACHE/config.tmp" "$layout/blobs/sha256/$cdigest"
  manifest=$(jq -cn --arg cd "sha256:$cdigest" --argjson cs "$csize" --argjson layers "$(printf '%s\n' "${layers[@]}" | jq -cs .)" \
    '{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$cd,size:$cs},layers:$layers}')
  printf '%s' "$manifest" > "$CACHE/manifest.tmp"
  mdigest=$(sha256sum "$CACHE/manifest.tmp" | cut -d' ' -f1); msize=$(stat -c %s "$CACHE/manifest.tmp")
  mv "$CACHE/manifest.tmp" "$layout/blobs/sha256/$mdigest"
  local ref="$name:$PYTHON" entry
  entry=$(jq -cn --arg d "sha256:$mdigest" --argjson s "$msize" --arg ref "$ref" \
    '{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$d,size:$s,annotations:{"org.opencontainers.image.ref.name":$ref}}')
  if [[ -f $layout/index.json ]]; then
    jq -c --arg ref "$ref" --argjson e "$entry" '.manifests = ([.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] != $ref)] + [$e])' "$layout/index.json" > "$layout/index.json.tmp"
  else
    jq -cn --argjson e "$entry" '{schemaVersion:2,manifests:[$e]}' > "$layout/index.json.tmp"
  fi
  mv "$layout/index.json.tmp" "$layout/index.json"
  local remote
  remote=$(curl -s -o /dev/null -I -w '%header{docker-content-digest}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG/v2/mll/$name/manifests/$PYTHON" 2>/dev/null || true)
  if [[ $remote == "sha256:$mdigest" ]]; then
    svc_log "$REG/mll/$ref is up to date (sha256:${mdigest:0:12})"
  else
    svc_log "pushing $REG/mll/$ref (sha256:${mdigest:0:12})"
    skopeo copy --quiet --preserve-digests --dest-tls-verify=false "oci:$layout:$ref" "docker://$REG/mll/$ref" >&2
  fi
}

case "${1:-build}" in
  build) REBUILD=0 ;;
  rebuild) REBUILD=1 ;;
  *) echo "usage: $0 build|rebuild" >&2; exit 2 ;;
esac
[[ $(uname -m) == x86_64 ]] || svc_die "the runtime images are built for linux/amd64; this machine is $(uname -m)"
svc_apt debootstrap skopeo jq attr curl
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9  # one build at a time per machine; a second caller waits and then finds everything cached
trap unmount_all EXIT
build_debian
build_sklearn
build_runtime
image runtime-python "" "$DEBIAN_DIR" "$RUNTIME_DIR"
image runtime-python-sklearn sklearn "$DEBIAN_DIR" "$SKLEARN_DIR" "$RUNTIME_DIR"
