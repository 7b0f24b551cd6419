#!/usr/bin/env bash
# The main job: sets the machine up, builds, starts the local cluster on 127.0.0.1 - the
# preprocess service, a CPU worker group (TP = 2 by default, GEMMA_TP to change) and the router -
# on the default model (the 12B architecture scaled down, random weights, the real Gemma 4
# vocabulary; generated once into /var/cache/gemma-serve), sends it a demo request with text, an
# image and an audio clip through the CLI client (text streamed as it arrives, then the same
# request as JSON lines), and stops everything it started.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
npm_dir=${GEMMA_NPM_DIR:-/var/cache/gemma-serve/npm}
tp=${GEMMA_TP:-2}
say() { printf '[cluster] %s\n' "$*"; }

say "setting up the machine (first run: a few minutes)"
scripts/setup.sh </dev/null
say "building"
bazel build -c opt --noshow_progress //service/preprocess:preprocess_server \
  //service/worker:worker //service/worker:worker_launcher //service/router:router \
  //client:gemma_client //engine/tools:make_test_checkpoint </dev/null 2>&1 |
  grep -E "^(ERROR|FAILED)" || true
bin=$(bazel info -c opt bazel-bin 2>/dev/null)

run_dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$run_dir"
}
trap cleanup EXIT

wait_for() {  # name file pid: waits for `file` to appear while `pid` lives
  local name=$1 file=$2 pid=$3
  for i in $(seq 1200); do
    [[ -s "$file" ]] && return
    kill -0 "$pid" 2>/dev/null || { say "$name failed to start:"; cat "$run_dir/$name.log" >&2; exit 1; }
    ((i % 50 == 0)) && say "  ... $name still starting ($((i / 10)) s)"
    sleep 0.1
  done
  say "$name did not start"; exit 1
}
start() {  # name binary args...; sets started_port
  local name=$1 binary=$2
  shift 2
  "$binary" --host=127.0.0.1 --port=0 --port_file="$run_dir/$name.port" "$@" \
    >"$run_dir/$name.log" 2>&1 &
  pids+=($!)
  wait_for "$name" "$run_dir/$name.port" "${pids[-1]}"
  started_port=$(cat "$run_dir/$name.port")
}

model_dir=/var/cache/gemma-serve/models/default
if [[ ! -f "$model_dir/model.gguf" || ! -f "$model_dir/drafter/config.json" ||
      ! -f "$model_dir/hf/tokenizer.json" ]]; then
  say "generating the default model and its MTP drafter in $model_dir"
  mkdir -p "$model_dir"
  "$bin/engine/tools/make_test_checkpoint" --hf_dir="$model_dir/hf" --gguf="$model_dir/model.gguf" \
    --drafter_dir="$model_dir/drafter" --write_tokenizer
fi

say "starting the preprocess service"
start preprocess "$bin/service/preprocess/preprocess_server" --model="$model_dir/hf"
preprocess_port=$started_port
say "starting $tp CPU worker ranks (tensor parallel) on $model_dir/hf, with its MTP drafter"
OMP_NUM_THREADS=1 "$bin/service/worker/worker_launcher" --world_size="$tp" \
  --state_file="$run_dir/workers.json" -- --model="$model_dir/hf" --drafter="$model_dir/drafter" \
  >"$run_dir/workers.log" 2>&1 &
pids+=($!)
wait_for workers "$run_dir/workers.json" "${pids[-1]}"
say "starting the router (warms the workers up)"
router_metrics=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start router "$bin/service/router/router" --tokenizer="$model_dir/hf" \
  --preprocess="127.0.0.1:$preprocess_port" --worker_group_state="$run_dir/workers.json" \
  --kv_blocks=256 --max_context=2048 --metrics_port="$router_metrics"
router_port=$started_port
say "cluster up: router 127.0.0.1:$router_port -> preprocess 127.0.0.1:$preprocess_port, $tp workers"

say "the API through reflection (buf curl):"
"$npm_dir/node_modules/.bin/buf" curl --protocol grpc --http2-prior-knowledge --list-methods \
  "http://127.0.0.1:$router_port" | grep gemma.v1

/usr/bin/python3 - "$run_dir" <<'PY'
import io, sys
import numpy as np, soundfile
from PIL import Image
run_dir = sys.argv[1]
y, x = np.mgrid[0:480, 0:640]
Image.fromarray(np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)).save(f"{run_dir}/demo.png")
soundfile.write(f"{run_dir}/demo.wav", 0.3 * np.sin(2 * np.pi * 440 * np.arange(88200) / 44100), 44100)
PY
say "demo request: a chat with text, a 640x480 image and 2 s of audio (random weights: the text is noise)"
"$bin/client/gemma_client" --server="127.0.0.1:$router_port" --system="You are concise." \
  --image="$run_dir/demo.png" --audio="$run_dir/demo.wav" --max_tokens=24 --ignore_eos \
  "What do you see and hear?"
say "the same request, --json (one line per streamed message; the last has usage and timings):"
"$bin/client/gemma_client" --server="127.0.0.1:$router_port" --system="You are concise." \
  --image="$run_dir/demo.png" --audio="$run_dir/demo.wav" --max_tokens=4 --ignore_eos --json \
  "What do you see and hear?"
say "done; stopping"
