#!/usr/bin/env bash
# The generate CLI end to end: writes a checkpoint, generates greedily from the GGUF and from the
# HF directory (same tokens), checks sampling is reproducible per seed, and that bad input fails
# with a message instead of a crash.
set -euo pipefail
here=$(dirname "$0")
work=${TEST_TMPDIR:-$(mktemp -d)}
"$here/make_test_checkpoint" --gguf="$work/m.gguf" --hf_dir="$work/hf" --layers=6 --seed=3 \
  --drafter_dir="$work/drafter"
run() { "$here/generate" --threads=2 --prompt_ids=2,105,2364,107,9259 "$@"; }

run --model="$work/m.gguf" --max_tokens=12 >"$work/gguf.txt" 2>"$work/gguf.err"
run --model="$work/hf" --max_tokens=12 >"$work/hf.txt" 2>"$work/hf.err"
[[ $(wc -l <"$work/gguf.txt") -ge 1 ]] || { echo "no tokens generated"; exit 1; }
grep -q "loading weights" "$work/gguf.err" || { echo "no progress bar"; exit 1; }
grep -q "tokens/s" "$work/gguf.err" || { echo "no speed report"; exit 1; }
# Same weights, same greedy ids (the HF layout has no vocabulary pieces to print).
diff <(cut -f1 "$work/gguf.txt") "$work/hf.txt" || { echo "GGUF and HF disagree"; exit 1; }
# GGUF output carries pieces from the real Gemma 4 vocabulary.
[[ $(head -1 "$work/gguf.txt" | awk -F'\t' '{print NF}') == 2 ]] || { echo "no pieces"; exit 1; }

# Speculative decoding with the MTP drafter: the same greedy tokens, and the acceptance report.
run --model="$work/hf" --max_tokens=12 --drafter="$work/drafter" --draft_tokens=3 \
  >"$work/mtp.txt" 2>"$work/mtp.err"
diff "$work/hf.txt" "$work/mtp.txt" || { echo "MTP changed greedy output"; exit 1; }
grep -q "mean accepted length" "$work/mtp.err" || { cat "$work/mtp.err"; exit 1; }

run --model="$work/m.gguf" --max_tokens=16 --temperature=1 --seed=5 --stop_at_eos=false \
  >"$work/s1.txt" 2>/dev/null
run --model="$work/m.gguf" --max_tokens=16 --temperature=1 --seed=5 --stop_at_eos=false \
  >"$work/s2.txt" 2>/dev/null
run --model="$work/m.gguf" --max_tokens=16 --temperature=1 --seed=6 --stop_at_eos=false \
  >"$work/s3.txt" 2>/dev/null
cmp -s "$work/s1.txt" "$work/s2.txt" || { echo "same seed, different tokens"; exit 1; }
! cmp -s "$work/s1.txt" "$work/s3.txt" || { echo "different seeds, same 16 tokens"; exit 1; }

if run --model="$work/m.gguf" --prompt_ids=2,999999 2>"$work/bad.err" >/dev/null; then
  echo "out-of-range token accepted"; exit 1
fi
grep -q "token id 999999" "$work/bad.err" || { cat "$work/bad.err"; exit 1; }
if run --model="$work/missing.gguf" 2>"$work/missing.err" >/dev/null; then exit 1; fi
grep -q "missing.gguf" "$work/missing.err" || { cat "$work/missing.err"; exit 1; }
echo "generate CLI: all checks passed"
