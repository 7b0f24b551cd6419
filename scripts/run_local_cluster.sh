#!/usr/bin/env bash
# The main job: sets the machine up, builds, starts the local cluster on 127.0.0.1 and sends it
# the demo request, then stops what it started.
#
# Today: the common server skeleton (health + reflection), checked through a foreign client (buf
# curl); the preprocess server turning a multimodal chat (text, an image, an audio clip) into
# token ids, patches and frames; and the engine generating in-process from the preprocessed
# text prompt on the default model (the 12B architecture scaled down, random weights, real
# Gemma 4 vocabulary; generated once into /var/cache/gemma-serve); then a CPU worker group (TP = 2,
# started by worker_launcher) decoding the same prompt through its Step RPCs. The router joins
# here with its issue, and the demo becomes a multimodal Generate request through it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
npm_dir=${GEMMA_NPM_DIR:-/var/cache/gemma-serve/npm}
say() { printf '[cluster] %s\n' "$*"; }

say "setting up the machine (first run: a few minutes)"
scripts/setup.sh </dev/null
say "building"
bazel build -c opt --noshow_progress //service/common:skeleton_server \
  //service/preprocess:preprocess_server //service/worker:worker //service/worker:worker_launcher \
  //engine/tools:make_test_checkpoint //engine/tools:generate </dev/null 2>&1 |
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

started_port=
start() {  # name binary args...; sets started_port
  local name=$1 binary=$2
  shift 2
  "$binary" --host=127.0.0.1 --port=0 --port_file="$run_dir/$name.port" "$@" \
    >"$run_dir/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    [[ -s "$run_dir/$name.port" ]] && { started_port=$(cat "$run_dir/$name.port"); return; }
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$run_dir/$name.log" >&2; exit 1; }
    sleep 0.05
  done
  say "$name did not start"; exit 1
}

say "starting the skeleton server"
metrics_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start skeleton "$bin/service/common/skeleton_server" --metrics_port="$metrics_port"
port=$started_port
say "skeleton server on 127.0.0.1:$port"

say "demo request: reflection, then grpc.health.v1.Health/Check"
buf=("$npm_dir/node_modules/.bin/buf" curl --protocol grpc --http2-prior-knowledge)
"${buf[@]}" --list-methods "http://127.0.0.1:$port"
"${buf[@]}" -d '{}' "http://127.0.0.1:$port/grpc.health.v1.Health/Check"
say "its metrics (http://127.0.0.1:$metrics_port/metrics):"
/usr/bin/python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$metrics_port/metrics').read().decode())" |
  grep -E "^gemma_grpc_server_handled_total|^gemma_grpc_server_in_flight"
model_dir=/var/cache/gemma-serve/models/default
if [[ ! -f "$model_dir/model.gguf" || ! -f "$model_dir/drafter/config.json" ||
      ! -f "$model_dir/hf/tokenizer.json" ]]; then
  say "generating the default model and its MTP drafter in $model_dir"
  mkdir -p "$model_dir"
  "$bin/engine/tools/make_test_checkpoint" --hf_dir="$model_dir/hf" --gguf="$model_dir/model.gguf" \
    --drafter_dir="$model_dir/drafter" --write_tokenizer
fi
say "starting the preprocess server (tokenizer.json of $model_dir/hf)"
start preprocess "$bin/service/preprocess/preprocess_server" --model="$model_dir/hf"
preprocess_port=$started_port
say "preprocess server on 127.0.0.1:$preprocess_port"
say "demo request: a chat with text, an image (640x480 PNG) and 2 s of audio (44.1 kHz WAV)"
/usr/bin/python3 - "$run_dir" <<'PY'
import base64, io, json, sys
import numpy as np, soundfile
from PIL import Image
run_dir = sys.argv[1]
y, x = np.mgrid[0:480, 0:640]
image = io.BytesIO()
Image.fromarray(np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)).save(image, "PNG")
audio = io.BytesIO()
soundfile.write(audio, 0.3 * np.sin(2 * np.pi * 440 * np.arange(88200) / 44100), 44100, format="WAV")
chat = {"messages": [
    {"role": "ROLE_SYSTEM", "parts": [{"text": "You are a concise assistant."}]},
    {"role": "ROLE_USER", "parts": [
        {"text": "What do you see and hear?"},
        {"image": {"data": base64.b64encode(image.getvalue()).decode()}},
        {"audio": {"data": base64.b64encode(audio.getvalue()).decode()}}]}]}
json.dump({"prompt": {"chat": chat}}, open(f"{run_dir}/multimodal.json", "w"))
text_chat = {"messages": [{"role": "ROLE_USER", "parts": [{"text": "Hello, how are you?"}]}]}
json.dump({"prompt": {"chat": text_chat}}, open(f"{run_dir}/text.json", "w"))
PY
"${buf[@]}" -d @"$run_dir/multimodal.json" \
  "http://127.0.0.1:$preprocess_port/gemma.preprocess.v1.Preprocess/Preprocess" \
  >"$run_dir/multimodal.out"
/usr/bin/python3 - "$run_dir/multimodal.out" <<'PY'
import json, sys
reply = json.load(open(sys.argv[1]))
ids = reply["tokenIds"]
print(f"  {len(ids)} prompt tokens: {reply['counts']}")
for item in reply["media"]:
    shape = "x".join(str(d) for d in item["features"]["shape"])
    grid = f", grid {item['gridWidth']}x{item['gridHeight']}" if "gridWidth" in item else ""
    print(f"  {item['kind']}: tokens [{item['tokenOffset']}, +{item['numTokens']}), "
          f"features {item['features']['dtype']} {shape}{grid}")
PY
prompt_ids=$("${buf[@]}" -d @"$run_dir/text.json" \
  "http://127.0.0.1:$preprocess_port/gemma.preprocess.v1.Preprocess/Preprocess" |
  /usr/bin/python3 -c 'import json, sys; print(",".join(map(str, json.load(sys.stdin)["tokenIds"])))')
say "demo generation (engine in-process) from the preprocessed chat \"Hello, how are you?\":"
say "prompt ids: $prompt_ids"
"$bin/engine/tools/generate" --model="$model_dir/model.gguf" --max_tokens=16 \
  --prompt_ids="$prompt_ids"
say "starting a CPU worker group (TP = 2) on the default model"
"$bin/service/worker/worker_launcher" --world_size=2 --state_file="$run_dir/workers.json" \
  -- --model="$model_dir/model.gguf" >"$run_dir/workers.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do
  [[ -s "$run_dir/workers.json" ]] && break
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$run_dir/workers.log" >&2; exit 1; }
  sleep 0.1
done
say "the same prompt through the worker group's Step RPCs (greedy; must equal the tokens above):"
OMP_NUM_THREADS=1 /usr/bin/python3 scripts/worker_group_demo.py "$run_dir/workers.json" "$prompt_ids" 16
say "the same with speculative decoding through the MTP drafter (random weights: few drafts accepted):"
"$bin/engine/tools/generate" --model="$model_dir/hf" --drafter="$model_dir/drafter" \
  --draft_tokens=3 --max_tokens=16 --prompt_ids="$prompt_ids" | cut -f1 | tr '\n' ' '
echo
say "done; stopping"
