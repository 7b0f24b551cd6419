#!/usr/bin/env bash
# Installs everything gemma-serve needs on a fresh Debian 12 machine: run as root, no stdin needed,
# safe to run again (it only installs what is missing or changed).
#   - Debian packages: Bazel (bazel-bootstrap), the C++ toolchain and libraries, test tools.
#   - Pinned npm packages used by tests as external references (tools/npm/package-lock.json),
#     installed outside the clone in $GEMMA_NPM_DIR (default /var/cache/gemma-serve/npm).
#   - Cache folders for Bazel outside the clone (/var/cache/gemma-serve).
# The CUDA 13 toolkit (nvcc, cuBLASLt, NCCL) is expected preinstalled at /usr/local/cuda.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=/var/cache/gemma-serve
npm_dir=${GEMMA_NPM_DIR:-$cache/npm}

say() { printf '[setup] %s\n' "$*"; }

apt_packages=(
  # Build
  bazel-bootstrap pkg-config g++ git ca-certificates
  # C++ libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  # Metrics endpoint (cpp-httplib) and its checks (promtool, a real Prometheus)
  libcpp-httplib-dev prometheus
  # CPU collectives for tensor-parallel workers
  libgloo-dev
  # Tests: certificates, foreign gRPC client
  openssl python3 python3-grpcio python3-protobuf
  # Header-only JSON (config.json, safetensors headers, tokenizer.json)
  nlohmann-json3-dev
  # Preprocess: image and audio decoding, resampling
  libpng-dev libjpeg62-turbo-dev libwebp-dev libsndfile1-dev libsoxr-dev
  # Fuzzing (libFuzzer) and the preprocess references (Pillow, ImageMagick, numpy/scipy, soundfile)
  clang-14 libclang-rt-14-dev imagemagick
  python3-numpy python3-pil python3-scipy python3-soundfile python3-jinja2
)
command -v node >/dev/null && command -v npm >/dev/null || apt_packages+=(nodejs npm)
# kubectl renders the k8s overlays (kubectl kustomize); machines of this kind ship a recent one.
# Debian's kubernetes-client is the fallback (its kustomize predates components: the k8s test
# then fails and says why).
command -v kubectl >/dev/null || apt_packages+=(kubernetes-client)

missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq </dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
else
  say "Debian packages: all present"
fi

if [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
  say "ERROR: the CUDA 13 toolkit is expected at /usr/local/cuda (nvcc, cuBLASLt, NCCL)."
  exit 1
fi

mkdir -p "$cache/bazel-root" "$cache/bazel-disk" "$npm_dir"
# Bazel 4 never prunes its disk cache: drop entries unused for a week once it passes 10 GB.
if (( $(du -sm "$cache/bazel-disk" | cut -f1) > 10240 )); then
  say "pruning the Bazel disk cache"
  find "$cache/bazel-disk" -type f -atime +7 -delete
fi

lock="$repo/tools/npm/package-lock.json"
stamp="$npm_dir/.installed-lock.sha256"
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -d "$npm_dir/node_modules" ]]; then
  say "installing pinned npm packages into $npm_dir"
  cp "$repo/tools/npm/package.json" "$lock" "$npm_dir/"
  # --ignore-scripts: no install script may download anything (node-llama-cpp ships prebuilt
  # binaries in @node-llama-cpp/linux-x64; buf in @bufbuild/buf-linux-x64).
  (cd "$npm_dir" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --ignore-scripts --omit=optional \
    --no-audit --no-fund --loglevel=error </dev/null >/dev/null)
  echo "$want" >"$stamp"
else
  say "npm packages: up to date in $npm_dir"
fi
"$npm_dir/node_modules/.bin/buf" --version >/dev/null

# Reference files from the llama.cpp source bundled in node-llama-cpp (read, never compiled in):
# the real Gemma 4 vocabulary with its HF-generated tokenizer vectors, the chat template, and
# the public headers of the bundled libllama (tests/llama_parity builds a small driver of the
# MTP draft API, which node-llama-cpp does not expose, against the prebuilt library).
llama_dir=$cache/llama.cpp
llama_files=(models/ggml-vocab-gemma-4.gguf models/ggml-vocab-gemma-4.gguf.inp
  models/ggml-vocab-gemma-4.gguf.out models/templates/google-gemma-4-31B-it.jinja
  include/llama.h src/llama-ext.h ggml/include/ggml.h ggml/include/ggml-cpu.h
  ggml/include/ggml-backend.h ggml/include/ggml-opt.h ggml/include/ggml-alloc.h
  ggml/include/gguf.h)
bundle="$npm_dir/node_modules/node-llama-cpp/llama/gitRelease.bundle"
bundle_stamp="$llama_dir/.bundle.sha256"
want="$(sha256sum "$bundle" | cut -d' ' -f1) ${llama_files[*]}"
if [[ ! -f "$bundle_stamp" || "$(cat "$bundle_stamp")" != "$want" ]]; then
  say "extracting the Gemma 4 vocabulary and libllama's headers from the llama.cpp bundle"
  rm -rf "$llama_dir"
  git clone -q --no-checkout "$bundle" "$llama_dir" </dev/null
  git -C "$llama_dir" -c advice.detachedHead=false checkout -q HEAD -- "${llama_files[@]}"
  echo "$want" >"$bundle_stamp"
fi
say "ready: bazel-bootstrap $(dpkg-query -W -f='${Version}' bazel-bootstrap), $(protoc --version), node $(node --version)"
