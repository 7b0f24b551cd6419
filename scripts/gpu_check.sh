#!/usr/bin/env bash
# The one GPU check, for a lent GPU machine (which has nvcc, PyTorch and CUDA libraries, but no
# Bazel, gRPC or Debian -dev libraries):
#   scripts/gpu_check.sh prepare   here: build the GPU test and bench binaries, fully static apart
#                                  from the CUDA libraries and libc, into .gpu/ (git-ignored)
#   scripts/gpu_check.sh run       there: run them; per-binary logs and XML land in $OUT
# With the device tool: run(command="scripts/gpu_check.sh run", carry=[".gpu"], timeout_s=300).
# Without a GPU, `run` still executes and the GPU cases report SKIPPED with the reason.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
gpu_targets=(//engine/cuda:rms_norm_test)

prepare() {
  bazel build -c opt --dynamic_mode=off "${gpu_targets[@]}"
  rm -rf .gpu && mkdir -p .gpu/bin
  for target in "${gpu_targets[@]}"; do
    local path=${target#//}
    cp "$(bazel info -c opt bazel-bin)/${path/://}" .gpu/bin/
  done
  chmod -R u+w .gpu
  # Only CUDA, the C/C++ runtime and the dynamic loader may be needed at run time.
  local foreign
  foreign=$(ldd .gpu/bin/* | awk '/=>/ {print $1}' |
    grep -vE '^(libcudart|libcublas|libcublasLt|libnccl|libstdc\+\+|libm|libgcc_s|libc|libdl|libpthread|librt)\.so' ||
    true)
  if [[ -n "$foreign" ]]; then
    echo "GPU binaries need libraries the GPU machine lacks: $foreign" >&2
    exit 1
  fi
  du -sh .gpu
}

run() {
  local out=${OUT:-$repo/.gpu/out}
  mkdir -p "$out"
  # CUDA libraries: the toolkit's, else the ones PyTorch's wheels bring.
  local libs=/usr/local/cuda/lib64
  local wheels
  wheels=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null ||
    true)
  [[ -n "$wheels" ]] && libs="$libs:$(ls -d "$wheels"/nvidia/*/lib 2>/dev/null | tr '\n' ':')"
  export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  local failed=0
  for binary in .gpu/bin/*; do
    local name
    name=$(basename "$binary")
    echo "== $name"
    if ! "$binary" --gtest_output="xml:$out/$name.xml" >"$out/$name.log" 2>&1; then
      failed=$((failed + 1))
    fi
    grep -E '^\[ +(OK|FAILED|SKIPPED) +\]|skipped:|Failure' "$out/$name.log" | head -40 || true
  done
  echo "gpu_check: $failed binaries failed"
  ((failed == 0))
}

case ${1:-} in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
