#!/usr/bin/env bash
# Every fuzz target, built without libFuzzer (fuzz_driver.cc), over its seeds and the regression
# inputs plus a few seconds of random mutations - in whatever configuration Bazel builds it
# (plain, ASan, UBSan). scripts/fuzz.sh runs the same targets under libFuzzer.
set -euo pipefail
here=$(dirname "$0")
work=${TEST_TMPDIR:-$(mktemp -d)}
/usr/bin/python3 "$here/make_seeds.py" "$work/seeds"
for target in tokenizer_json_fuzzer gguf_vocab_fuzzer tokenizer_encode_fuzzer \
    image_decode_fuzzer audio_decode_fuzzer; do
  echo "== $target"
  "$here/$target" -max_total_time=3 "$work/seeds/$target"
done
