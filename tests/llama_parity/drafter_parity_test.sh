#!/usr/bin/env bash
# The MTP drafter against llama.cpp's gemma4-assistant on a generated target/drafter GGUF pair
# (real Gemma 4 vocabulary, the 12B's architecture scaled down; prompts longer than the sliding
# window so the drafter's sliding layers see a window of the target's cache, not all of it).
# For each prompt: the target's next token, then 6 draft steps at the fixed position - each
# step's full 262144-entry distribution and its draft token. drafter_reference.cc drives
# libllama's draft API (which node-llama-cpp does not expose); it is compiled here against the
# prebuilt libllama of node-llama-cpp and the headers scripts/setup.sh extracts from its bundle.
# With llama.cpp's f16 GELU table emulated (see llama_parity_test.sh), fed our target's hidden
# state and then llama.cpp's (which isolates the drafter: the gap stays, so it is the drafter's
# own f32 ordering and the target K/V it reads, not its input). Measured (seed 7, 18 steps):
# max |dp| 1.5e-3, mean KL 6.1e-5, top-1 18/18, all 21 tokens identical, in both runs; the
# drafter's logits carry no softcap, so they are sharper than the target's and differences
# show more. Mutations it catches: advancing the position per draft step (max |dp| 0.16), a
# sliding window one key wider (0.07). With the exact GELU, a near-tie flips one draft of 18
# (max |dp| 1e-2 before it), as greedy runs of the target do; that mode is not asserted.
set -euo pipefail
here=$(dirname "$0")
work=${TEST_TMPDIR:-$(mktemp -d)}
cache=${GEMMA_CACHE_DIR:-/var/cache/gemma-serve}
headers=$cache/llama.cpp
libs=${GEMMA_NPM_DIR:-$cache/npm}/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
for f in "$headers/include/llama.h" "$headers/src/llama-ext.h" "$libs/libllama.v0.4.0.so"; do
  if [[ ! -f "$f" ]]; then
    echo "missing $f: run scripts/setup.sh" >&2
    exit 1
  fi
done
g++ -std=c++17 -O1 -w -I"$headers/include" -I"$headers/src" -I"$headers/ggml/include" \
  "$here/drafter_reference.cc" -o "$work/drafter_reference" \
  "$libs/libllama.v0.4.0.so" "$libs/libggml.v0.4.0.so" "$libs/libggml-base.so" \
  -Wl,-rpath,"$libs"

"$here/../../engine/tools/make_test_checkpoint" --gguf="$work/model.gguf" \
  --drafter_gguf="$work/drafter.gguf" --seed=7


"$work/drafter_reference" "$work/model.gguf" "$work/drafter.gguf" "$here/prompts.json" "$work" 6 \
  "$libs"
for hidden in false true; do
  "$here/drafter_parity_check" --model="$work/model.gguf" --drafter="$work/drafter.gguf" \
    --prompts="$here/prompts.json" --reference="$work" --steps=6 --gelu=llamacpp \
    --reference_hidden=$hidden --max_abs_diff=3e-3 --max_mean_kl=2e-4
done
