# Sourced by runtimes.sh, never run: how the Debian layers of the runtime images are made. The Debian
# and sklearn layers are cached by a hash of this file (with lib.sh and the package lists), not of
# runtimes.sh, so changing how images are assembled does not repeat debootstrap.
# Needs: CACHE, MIRROR, SUITE, PYTHON, BASE_PACKAGES, SKLEARN_PACKAGES, REBUILD; sets DEBIAN_DIR, SKLEARN_DIR.

# Docs, man pages and translations are dropped (copyright files kept), here and for later installs.
DPKG_EXCLUDES='path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*/*
path-exclude=/usr/share/lintian/*'

LAYERS_HASH=$(cat "${BASH_SOURCE[0]}" "$(dirname "${BASH_SOURCE[0]}")/lib.sh" | sha256sum | cut -c1-16)

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


hash_of() { sha256sum | cut -c1-16; }

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
  key=$(printf '%s\n' "$LAYERS_HASH" "$SUITE" "$MIRROR" "${BASE_PACKAGES[@]}" | hash_of)
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

