#!/usr/bin/env bash
# Parity with llama.cpp on a generated F32 GGUF (real Gemma 4 vocabulary, the 12B's architecture
# scaled down): full next-token distributions at every position of the prompts in prompts.json,
# and 64 greedy tokens per prompt. Prompts cross KV block boundaries (16) and the sliding window (16).
#
# Why the bound is not 1e-4: llama.cpp's CPU GELU is a table, f16(gelu(f16(x))) for |x| < 10, so
# each activation carries up to half an f16 ulp (~5e-4 relative) of error. With that table
# emulated (--gelu=llamacpp), what remains are pre-activations that fall on different sides of an
# f16 rounding boundary because f32 sums run in a different order; these flips are sporadic (they
# appear at isolated positions, not growing with position or past the window). Measured
# (seed 7, 83 positions): max |dp| 8.0e-4, mean KL 4.4e-6. With the exact tanh GELU that Hugging
# Face uses: max |dp| 2.3e-3, mean KL 1.1e-4. Bounds below sit above those. The top-1 token at
# every prompt position must agree in both modes; 64 greedy tokens per prompt must be identical
# with the table emulated (with the exact GELU, llama.cpp's approximation flips near-ties after a
# few dozen tokens, so greedy runs are reported but not required to match). (KV cache F32
# and flash attention off in llama.cpp, see llama_reference.mjs.)
set -euo pipefail
here=$(dirname "$0")
work=${TEST_TMPDIR:-$(mktemp -d)}
"$here/../../engine/tools/make_test_checkpoint" --gguf="$work/model.gguf" --seed=7


node "$here/llama_reference.mjs" "$work/model.gguf" "$here/prompts.json" "$work" 64
"$here/parity_check" --model="$work/model.gguf" --prompts="$here/prompts.json" \
  --reference="$work" --generate=64 --gelu=llamacpp --max_abs_diff=1e-3 --max_mean_kl=1e-5
"$here/parity_check" --model="$work/model.gguf" --prompts="$here/prompts.json" \
  --reference="$work" --generate=64 --gelu=tanh --max_abs_diff=4e-3 --max_mean_kl=3e-4 \
  --require_greedy_match=false
