#!/usr/bin/env bash
# The one GPU check, for a lent GPU machine (which has nvcc, PyTorch and CUDA libraries, but no
# Bazel, gRPC or Debian -dev libraries):
#   scripts/gpu_check.sh prepare   here: build the GPU test and bench binaries, fully static apart
#                                  from the CUDA libraries and libc, into .gpu/ (git-ignored)
#   scripts/gpu_check.sh run       there: run them; per-binary logs and XML land in $OUT; then
#                                  the Hugging Face golden logits (tests/hf_golden): the carried
#                                  make_test_checkpoint writes the checkpoint there, and
#                                  make_hf_golden.py writes $OUT/hf_golden.json - commit it as
#                                  tests/testdata/hf_golden.json (hf_golden_test then compares)
# With the device tool: run(command="scripts/gpu_check.sh run", carry=[".gpu"], timeout_s=300).
# Without a GPU, `run` still executes and the GPU cases report SKIPPED with the reason.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
gpu_targets=(//engine/cuda:rms_norm_test)
# Host tools the run needs there (static, no GPU code).
tool_targets=(//engine/tools:make_test_checkpoint)
vocab_gguf=${GEMMA_VOCAB_GGUF:-/var/cache/gemma-serve/llama.cpp/models/ggml-vocab-gemma-4.gguf}
# The golden checkpoint (recorded in the fixture, so hf_golden_test regenerates the same one).
golden_seed=11
golden_layers=6

prepare() {
  bazel build -c opt --dynamic_mode=off "${gpu_targets[@]}" "${tool_targets[@]}"
  rm -rf .gpu && mkdir -p .gpu/bin .gpu/tools
  local bin
  bin=$(bazel info -c opt bazel-bin)
  for target in "${gpu_targets[@]}"; do
    local path=${target#//}
    cp "$bin/${path/://}" .gpu/bin/
  done
  mkdir -p .gpu/tools/lib
  for target in "${tool_targets[@]}"; do
    local path=${target#//}
    cp "$bin/${path/://}" .gpu/tools/
    # Their Debian shared libraries (Abseil) travel with them.
    ldd "$bin/${path/://}" | awk '/=>/ {print $3}' |
      grep -vE '/(libstdc\+\+|libm|libgcc_s|libc|libdl|libpthread|librt)\.so' |
      xargs -r cp -L -t .gpu/tools/lib
  done
  cp "$vocab_gguf" .gpu/tools/vocab.gguf
  chmod -R u+w .gpu
  # Only CUDA, the C/C++ runtime and the dynamic loader may be needed at run time.
  local foreign
  foreign=$(LD_LIBRARY_PATH=.gpu/tools/lib ldd .gpu/bin/* .gpu/tools/make_test_checkpoint | awk '/=>/ {print $1}' |
    grep -vE '^(libcudart|libcublas|libcublasLt|libnccl|libstdc\+\+|libm|libgcc_s|libc|libdl|libpthread|librt)\.so' |
    while read -r lib; do [[ -f .gpu/tools/lib/$lib ]] || echo "$lib"; done ||
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
  echo "== hf_golden"
  if ! hf_golden "$out" >"$out/hf_golden.log" 2>&1; then
    failed=$((failed + 1))
  fi
  tail -8 "$out/hf_golden.log"
  echo "gpu_check: $failed checks failed"
  ((failed == 0))
}

# Golden logits from transformers for a generated checkpoint (f32, on the GPU when there is one).
hf_golden() {
  local out=$1 work status=0
  work=$(mktemp -d)
  LD_LIBRARY_PATH=.gpu/tools/lib .gpu/tools/make_test_checkpoint \
    --vocab_gguf=.gpu/tools/vocab.gguf --seed=$golden_seed --layers=$golden_layers \
    --hf_dir="$work/target" --drafter_dir="$work/drafter" &&
    python3 tests/hf_golden/make_hf_golden.py --target="$work/target" \
      --drafter="$work/drafter" --out="$out/hf_golden.json" \
      --checkpoint_args="{\"seed\": $golden_seed, \"layers\": $golden_layers}" ||
    status=$?
  rm -rf "$work"
  return $status
}

case ${1:-} in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare|run" >&2; exit 2 ;;
esac
