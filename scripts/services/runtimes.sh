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
. "$here/runtime-layers.sh"

REPO=$(cd "$here/../.." && pwd)
RUNTIME_SRC="$REPO/runtimes/python"
CACHE="${MLL_SERVICES_DIR:-/tmp/mll-services}/runtimes"
REG="127.0.0.1:${MLL_REGISTRY_PORT:-5000}"
MIRROR="${MLL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
PYTHON=3.11
BASE_PACKAGES=(python3 python3-grpcio python3-protobuf python3-numpy python3-pip)
SKLEARN_PACKAGES=(python3-sklearn)

build_runtime() {
  local key dir
  key=$( { cat "$0"; echo "$LAYERS_HASH"; cat "$DEBIAN_DIR/epoch"; cd "$RUNTIME_SRC" && find app start.sh -name '*.py' -o -name start.sh | LC_ALL=C sort | xargs sha256sum; } | hash_of)
  dir="$CACHE/runtime-$key"; RUNTIME_DIR=$dir
  if layer_ok "$dir/layer"; then return 0; fi
  bash "$RUNTIME_SRC/gen-protos.sh" --check || svc_die "the generated protobuf modules in runtimes/python/app are stale"
  fresh_dir "$dir"; mkdir -p "$dir/root/app/src"
  (cd "$RUNTIME_SRC/app" && find . -name '*.py' -print0 | LC_ALL=C sort -z | xargs -0 -I{} cp --parents {} "$dir/root/app/src/")
  cp "$RUNTIME_SRC/start.sh" "$dir/root/app/start.sh"
  find "$dir/root" -type d -exec chmod 755 {} + ; find "$dir/root" -type f -exec chmod 644 {} +
  chmod 755 "$dir/root/app/start.sh"
  # Byte-compiled by the image's own Python (hash-based .pyc, valid whatever the mtimes): every
  # container would otherwise compile the runtime again at start.
  mount --bind "$dir/root/app" "$DEBIAN_DIR/rootfs/mnt"; MOUNTS=("$DEBIAN_DIR/rootfs/mnt")
  chroot "$DEBIAN_DIR/rootfs" python3 -m compileall -q --invalidation-mode unchecked-hash -d /app/src /mnt/src >&2 \
    || { unmount_all; svc_die "byte-compiling runtimes/python/app failed"; }
  unmount_all
  chown -R 0:0 "$dir/root"
  pack "$dir/root" "$dir/layer" "$(cat "$DEBIAN_DIR/epoch")"
}

# write_image NAME VARIANT LAYER-DIRS...: adds NAME:$PYTHON to the OCI layout; prints the manifest digest
write_image() {
  local name=$1 variant=$2; shift 2
  local layout="$CACHE/oci" created d layers=() diffids=() history=() digest
  created=$(date -u -d "@$(cat "$DEBIAN_DIR/epoch")" +%Y-%m-%dT%H:%M:%SZ)
  for d in "$@"; do
    digest=$(cat "$d/layer/digest")
    [[ -e $layout/blobs/sha256/$digest ]] || ln "$d/layer/layer.tar.gz" "$layout/blobs/sha256/$digest"
    layers+=("$(jq -cn --arg d "sha256:$digest" --argjson s "$(cat "$d/layer/size")" '{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip",digest:$d,size:$s}')")
    diffids+=("sha256:$(cat "$d/layer/diffid")")
    history+=("$(jq -cn --arg c "$created" --arg b "$(basename "$d" | sed 's/-[0-9a-f]*$//') layer (scripts/services/runtimes.sh)" '{created:$c,created_by:$b}')")
  done
  local config
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
  local cdigest manifest mdigest
  cdigest=$(put_blob "$config")
  manifest=$(jq -cn --arg cd "sha256:$cdigest" --argjson cs "$(blob_size "$cdigest")" --argjson layers "$(printf '%s\n' "${layers[@]}" | jq -cs .)" \
    '{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$cd,size:$cs},layers:$layers}')
  mdigest=$(put_blob "$manifest")
  jq -c --arg d "sha256:$mdigest" --argjson s "$(blob_size "$mdigest")" --arg ref "$name:$PYTHON" \
    '.manifests += [{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$d,size:$s,annotations:{"org.opencontainers.image.ref.name":$ref}}]' \
    "$layout/index.json" > "$layout/index.json.tmp"
  mv "$layout/index.json.tmp" "$layout/index.json"
  echo "$mdigest"
}

put_blob() { # put_blob TEXT: stores TEXT (no newline) as a blob of the layout, prints its sha256
  local tmp="$CACHE/oci/blob.tmp" digest
  printf '%s' "$1" > "$tmp"
  digest=$(sha256sum "$tmp" | cut -d' ' -f1)
  mv "$tmp" "$CACHE/oci/blobs/sha256/$digest"
  echo "$digest"
}
blob_size() { stat -c %s "$CACHE/oci/blobs/sha256/$1"; }

# push NAME DIGEST: copies NAME:$PYTHON to the registry unless its tag already names that manifest
push() {
  local name=$1 digest=$2 remote
  remote=$(curl -s -o /dev/null -I -w '%header{docker-content-digest}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG/v2/mll/$name/manifests/$PYTHON" 2>/dev/null || true)
  if [[ $remote == "sha256:$digest" ]]; then
    svc_log "$REG/mll/$name:$PYTHON is up to date (sha256:${digest:0:12})"
    return 0
  fi
  svc_log "pushing $REG/mll/$name:$PYTHON (sha256:${digest:0:12})"
  skopeo copy --quiet --preserve-digests --dest-tls-verify=false "oci:$CACHE/oci:$name:$PYTHON" "docker://$REG/mll/$name:$PYTHON" >&2
}

# Keeps the two most recently used cache dirs of each layer kind (a second checkout with another
# version of these scripts does not rebuild every time), removes older ones.
prune_cache() {
  local kind d
  touch "$DEBIAN_DIR" "$SKLEARN_DIR" "$RUNTIME_DIR"
  for kind in debian sklearn runtime; do
    while read -r d; do
      [[ -n $d ]] || continue
      svc_log "removing the unused cache dir $d"
      fresh_dir "$d"; rmdir "$d"
    done < <(ls -1dt "$CACHE/$kind"-* 2>/dev/null | tail -n +3)
  done
}

case "${1:-build}" in
  build) REBUILD=0 ;;
  rebuild) REBUILD=1 ;;
  *) echo "usage: $0 build|rebuild" >&2; exit 2 ;;
esac
[[ $(uname -m) == x86_64 ]] || svc_die "the runtime images are built for linux/amd64; this machine is $(uname -m)"
svc_apt debootstrap skopeo jq attr curl protobuf-compiler protobuf-compiler-grpc
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9  # one build at a time per machine; a second caller waits and then finds everything cached
trap unmount_all EXIT
build_debian
build_sklearn
build_runtime
# The layout is remade each run from the cached layers (hard links): nothing stale stays in it.
rm -rf "$CACHE/oci"; mkdir -p "$CACHE/oci/blobs/sha256"
printf '{"imageLayoutVersion":"1.0.0"}' > "$CACHE/oci/oci-layout"
printf '{"schemaVersion":2,"manifests":[]}' > "$CACHE/oci/index.json"
plain=$(write_image runtime-python "" "$DEBIAN_DIR" "$RUNTIME_DIR")
sklearn=$(write_image runtime-python-sklearn sklearn "$DEBIAN_DIR" "$SKLEARN_DIR" "$RUNTIME_DIR")
push runtime-python "$plain"
push runtime-python-sklearn "$sklearn"
prune_cache
