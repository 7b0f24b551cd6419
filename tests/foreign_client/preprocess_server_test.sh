#!/usr/bin/env bash
# Foreign clients (python3-grpcio, buf) against the preprocess server; see preprocess_server_check.py.
set -euo pipefail
here=$(dirname "$0")
vocab=${GEMMA_VOCAB_GGUF:-${GEMMA_CACHE_DIR:-/var/cache/gemma-serve}/llama.cpp/models/ggml-vocab-gemma-4.gguf}
exec /usr/bin/python3 "$here/preprocess_server_check.py" --server "$1" --vocab "$vocab" \
  --proto_root "$here/../../proto"
