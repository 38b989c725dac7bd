#!/usr/bin/env bash
# Generates the runtime's protobuf and gRPC Python modules from protos/ with Debian's protoc
# (protobuf-compiler) and grpc_python_plugin (protobuf-compiler-grpc) into app/hydro_serving_grpc/.
# The generated files are committed, so both images (Debian packages and python:3.11-slim) run the
# same code and neither needs a generator; `--check` regenerates into a temp dir and fails when the
# committed files differ from what the .proto files give.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for tool in protoc grpc_python_plugin; do
  command -v "$tool" >/dev/null || { echo "gen-protos: $tool is missing (apt-get install protobuf-compiler protobuf-compiler-grpc)" >&2; exit 1; }
done

generate() {
  local out=$1
  mkdir -p "$out"
  (cd "$here/protos" && protoc -I . --python_out="$out" --grpc_out="$out" \
    --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" hydro_serving_grpc/*.proto)
  # Only the service module needs the gRPC stubs; the plugin writes an empty one per .proto file.
  find "$out/hydro_serving_grpc" -name '*_pb2_grpc.py' ! -name 'prediction_service_pb2_grpc.py' -delete
}

if [[ ${1:-} == --check ]]; then
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  stale=0
  for f in "$tmp"/hydro_serving_grpc/*.py; do
    cmp -s "$f" "$here/app/hydro_serving_grpc/$(basename "$f")" || { echo "gen-protos: app/hydro_serving_grpc/$(basename "$f") is stale" >&2; stale=1; }
  done
  for f in "$here"/app/hydro_serving_grpc/*_pb2*.py; do
    [[ -e "$tmp/hydro_serving_grpc/$(basename "$f")" ]] || { echo "gen-protos: app/hydro_serving_grpc/$(basename "$f") has no .proto" >&2; stale=1; }
  done
  ((stale == 0)) || { echo "gen-protos: run runtimes/python/gen-protos.sh and commit the result" >&2; exit 1; }
  exit 0
fi
rm -f "$here"/app/hydro_serving_grpc/*_pb2*.py
generate "$here/app"
