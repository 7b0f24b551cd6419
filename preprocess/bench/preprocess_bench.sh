#!/usr/bin/env bash
# Preprocessing benchmark: our tokenizer against llama.cpp's on the same 1 MB of English (both
# measured here, in this run), images/s and audio seconds/s. Optimised build, one core.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
cache=${GEMMA_CACHE_DIR:-/var/cache/gemma-serve}
vocab="$cache/llama.cpp/models/ggml-vocab-gemma-4.gguf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bazel build -c opt --noshow_progress //preprocess/bench:preprocess_bench >/dev/null 2>&1
node tests/tokenizer_parity/build_corpus.mjs "$work/corpus.json" 1
node -e 'const c = require(process.argv[1]); require("fs").writeFileSync(process.argv[2], c.english)' \
  "$work/corpus.json" "$work/english.txt"
/usr/bin/python3 - "$work" <<'PY'
import io, sys
import numpy as np, soundfile
from PIL import Image
work = sys.argv[1]
rng = np.random.default_rng(0)
y, x = np.mgrid[0:1080, 0:1920]
photo = np.clip(np.stack([x / 8, y / 5, 100 + 0 * x], -1) + rng.normal(0, 20, (1080, 1920, 3)), 0, 255)
Image.fromarray(photo.astype(np.uint8)).save(f"{work}/photo_1920x1080.jpg", quality=90)
Image.fromarray(photo[:480, :640].astype(np.uint8)).save(f"{work}/screenshot_640x480.png")
t = np.arange(44100 * 30) / 44100
stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], 1)
soundfile.write(f"{work}/speech_30s_44100_stereo.wav", stereo, 44100, subtype="PCM_16")
soundfile.write(f"{work}/clip_30s_16000.flac", stereo[::3, 0], 14700, subtype="PCM_16")
PY
llama=$(taskset -c 0 node preprocess/bench/llama_tokenize_bench.mjs "$vocab" "$work/english.txt" 5 2>/dev/null)
rate=$(echo "$llama" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_second"])')
taskset -c 0 .bazel/bin/preprocess/bench/preprocess_bench --vocab="$vocab" --text="$work/english.txt" \
  --llama_tokens_per_second="$rate" \
  --image="$work/photo_1920x1080.jpg,$work/screenshot_640x480.png" \
  --audio="$work/speech_30s_44100_stereo.wav,$work/clip_30s_16000.flac"
