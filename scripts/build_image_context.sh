#!/usr/bin/env bash
# Stages the container build context for k8s/image/Dockerfile: the optimised Bazel binaries,
# the Gemma 4 vocabulary, the Dockerfile. Then: docker build -t REGISTRY/gemma-serve:TAG DIR
#   scripts/build_image_context.sh DIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=${1:?usage: scripts/build_image_context.sh DIR}
binaries=(service/router/router service/preprocess/preprocess_server service/worker/worker
          service/worker/worker_launcher engine/tools/make_test_checkpoint client/gemma_client
          client/gemma_loadgen)
targets=()
for b in "${binaries[@]}"; do targets+=("//${b%/*}:${b##*/}"); done
bazel build -c opt --noshow_progress "${targets[@]}" </dev/null
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
mkdir -p "$out/bin" "$out/share"
for b in "${binaries[@]}"; do install -m 0755 "$bin/$b" "$out/bin/"; done
install -m 0644 "${GEMMA_CACHE_DIR:-/var/cache/gemma-serve}/llama.cpp/models/ggml-vocab-gemma-4.gguf" \
  "$out/share/"
install -m 0644 k8s/image/Dockerfile "$out/Dockerfile"
echo "context in $out: docker build -t REGISTRY/gemma-serve:TAG $out"
