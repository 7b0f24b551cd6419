#!/usr/bin/env bash
# The one GPU check, for a lent GPU machine (which has nvcc, PyTorch and CUDA libraries, but no
# Bazel, gRPC or Debian -dev libraries):
#   scripts/gpu_check.sh prepare   here: build the GPU tests, the GPU benchmark and the host
#                                  tools into .gpu/ (git-ignored), static but for CUDA, libc and
#                                  the Debian libraries they need, which travel in .gpu/lib
#   scripts/gpu_check.sh run       there, in about 5 minutes:
#     1. GPU tests (logs and XML in $OUT): kernels_test (every kernel and the cuBLASLt GEMM
#        against the CPU engine's kernels), cuda_model_test (the whole GPU step against the CPU
#        engine on a generated bf16 checkpoint: logits within 0.25, greedy tokens identical;
#        cached decoding, mixed batches and CUDA graphs consistent), cuda_drafter_test (the GPU
#        drafter against the CPU drafter; batching), sampling_test (GPU sampling draws the CPU
#        sampler's tokens for the same seeds), rms_norm_test;
#     2. cuda_bench ($OUT/cuda_bench.log): the 12B's exact shapes with random bf16 weights -
#        batch-1 decode against the HBM roofline, prefill against cuBLAS-bound, batch 16 / 64;
#        then speculative decoding on a generated 90 %-acceptance pair, k = 1..6, against
#        plain decoding (same tokens required);
#     3. Hugging Face golden logits (tests/hf_golden): the carried make_test_checkpoint writes
#        the checkpoint, make_hf_golden.py writes $OUT/hf_golden.json - commit it as
#        tests/testdata/hf_golden.json (hf_golden_test then compares).
# With the device tool: run(command="scripts/gpu_check.sh run", carry=[".gpu"], timeout_s=420).
# Without a GPU, `run` still executes and the GPU cases report SKIPPED with the reason.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
test_targets=(//engine/cuda:rms_norm_test //engine/cuda:kernels_test //engine/cuda:cuda_model_test
  //engine/cuda:cuda_drafter_test //engine/cuda:sampling_test)
bench_targets=(//engine/cuda:cuda_bench)
tool_targets=(//engine/tools:make_test_checkpoint)
vocab_gguf=${GEMMA_VOCAB_GGUF:-/var/cache/gemma-serve/llama.cpp/models/ggml-vocab-gemma-4.gguf}
# The golden checkpoint (recorded in the fixture, so hf_golden_test regenerates the same one).
golden_seed=11
golden_layers=6
# Libraries every Linux machine has; CUDA's come from the toolkit or PyTorch's wheels there.
base_libs='^(libcudart|libcublas|libcublasLt|libnccl|libcuda|libstdc\+\+|libm|libgcc_s|libc|libdl|libpthread|librt|ld-linux-x86-64)\.so'

prepare() {
  bazel build -c opt --dynamic_mode=off "${test_targets[@]}" "${bench_targets[@]}" \
    "${tool_targets[@]}"
  rm -rf .gpu && mkdir -p .gpu/bin .gpu/bench .gpu/tools .gpu/lib
  local bin
  bin=$(bazel info -c opt bazel-bin)
  copy() {  # copy TARGET... DIR
    local dir=${*: -1} target path
    for target in "${@:1:$#-1}"; do
      path=${target#//}
      cp "$bin/${path/://}" "$dir/"
      # The Debian shared libraries it links (Abseil, OpenMP) travel in .gpu/lib.
      ldd "$bin/${path/://}" | awk '/=>/ {print $1, $3}' | { grep -vE "$base_libs" || true; } |
        awk '{print $2}' | xargs -r cp -L -t .gpu/lib
    done
  }
  copy "${test_targets[@]}" .gpu/bin
  copy "${bench_targets[@]}" .gpu/bench
  copy "${tool_targets[@]}" .gpu/tools
  cp "$vocab_gguf" .gpu/tools/vocab.gguf
  chmod -R u+w .gpu
  local missing
  missing=$(LD_LIBRARY_PATH=.gpu/lib ldd .gpu/bin/* .gpu/bench/* .gpu/tools/make_test_checkpoint |
    awk '/not found/ {print $1}' | grep -vE "$base_libs" || true)
  if [[ -n "$missing" ]]; then
    echo "GPU binaries need libraries the GPU machine lacks: $missing" >&2
    exit 1
  fi
  du -sh .gpu
}

run() {
  local out=${OUT:-$repo/.gpu/out}
  mkdir -p "$out"
  # CUDA libraries: the toolkit's, else the ones PyTorch's wheels bring; then ours.
  local libs=/usr/local/cuda/lib64
  local wheels
  wheels=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null ||
    true)
  [[ -n "$wheels" ]] && libs="$libs:$(ls -d "$wheels"/nvidia/*/lib 2>/dev/null | tr '\n' ':')"
  export LD_LIBRARY_PATH="$libs:$repo/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export GEMMA_VOCAB_GGUF=$repo/.gpu/tools/vocab.gguf
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  local failed=0
  for binary in .gpu/bin/*; do
    local name
    name=$(basename "$binary")
    echo "== $name"
    if ! TEST_TMPDIR=$(mktemp -d) timeout 240 "$binary" --gtest_output="xml:$out/$name.xml" \
      >"$out/$name.log" 2>&1; then
      failed=$((failed + 1))
    fi
    grep -E '^\[ +(OK|FAILED|SKIPPED) +\]|skipped:|Failure' "$out/$name.log" | head -40 || true
  done
  echo "== cuda_bench"
  # The high-acceptance pair for the speculative part: an echo target and a drafter agreeing on
  # 90 % of the vocabulary by construction (make_test_checkpoint).
  local pair
  pair=$(mktemp -d)
  .gpu/tools/make_test_checkpoint --vocab_gguf=.gpu/tools/vocab.gguf --seed=5 --echo \
    --drafter_agreement=0.9 --hidden_size=1024 --intermediate_size=4096 --layers=12 \
    --hf_dtype=bf16 --hf_dir="$pair/target" --drafter_dir="$pair/drafter" || true
  if ! timeout 300 .gpu/bench/cuda_bench --spec_target="$pair/target" \
    --spec_drafter="$pair/drafter" >"$out/cuda_bench.log" 2>&1; then
    failed=$((failed + 1))
  fi
  rm -rf "$pair"
  cat "$out/cuda_bench.log"
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
  .gpu/tools/make_test_checkpoint --vocab_gguf=.gpu/tools/vocab.gguf --seed=$golden_seed \
    --layers=$golden_layers --hf_dir="$work/target" --drafter_dir="$work/drafter" &&
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
