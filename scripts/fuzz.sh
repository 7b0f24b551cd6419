#!/usr/bin/env bash
# Runs every fuzz target under libFuzzer (clang-14, ASan + UBSan) for a bounded time.
#   scripts/fuzz.sh [--seconds=N]      default 30 s per target
# Seeds come from fuzz/make_seeds.py; crashing inputs are kept in $GEMMA_FUZZ_ARTIFACTS
# (default /var/cache/gemma-serve/fuzz-artifacts). Prints a line per target and, last,
# "COUNTS passed failed 0" for scripts/test.sh.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
seconds=30
for arg in "$@"; do
  case $arg in
    --seconds=*) seconds=${arg#--seconds=} ;;
    *) echo "unknown argument $arg" >&2; exit 2 ;;
  esac
done
targets=(tokenizer_json_fuzzer gguf_vocab_fuzzer tokenizer_encode_fuzzer image_decode_fuzzer
         audio_decode_fuzzer)
artifacts=${GEMMA_FUZZ_ARTIFACTS:-/var/cache/gemma-serve/fuzz-artifacts}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

if ! bazel build --config=fuzz --noshow_progress //fuzz:all </dev/null >"$work/build.log" 2>&1; then
  tail -20 "$work/build.log"
  echo "fuzz: build failed"
  echo "COUNTS 0 ${#targets[@]} 0"
  exit 1
fi
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)/fuzz
/usr/bin/python3 fuzz/make_seeds.py "$work/seeds"
passed=0 failed=0
for target in "${targets[@]}"; do
  mkdir -p "$work/corpus/$target"
  # -rss_limit_mb guards memory blow-ups; -timeout flags inputs slower than 20 s (hangs).
  if "$bin/$target" -max_total_time="$seconds" -rss_limit_mb=2560 -timeout=20 \
      -artifact_prefix="$artifacts/$target-" -print_final_stats=1 \
      "$work/corpus/$target" "$work/seeds/$target" >"$work/$target.log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$')
    echo "fuzz: $target: ${runs:-?} inputs in ${seconds}s, no crash"
    passed=$((passed + 1))
  else
    echo "fuzz: $target: FAILED (input saved under $artifacts/$target-*)"
    grep -E "ERROR|SUMMARY|runtime error|==[0-9]+==" "$work/$target.log" | head -15
    failed=$((failed + 1))
  fi
done
echo "COUNTS $passed $failed 0"
((failed == 0))
