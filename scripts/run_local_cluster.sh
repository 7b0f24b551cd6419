#!/usr/bin/env bash
# The main job: sets the machine up, builds, starts the local cluster on 127.0.0.1 and sends it
# the demo request, then stops what it started.
#
# Today: the common server skeleton (health + reflection), checked through a foreign client (buf
# curl), and the engine generating in-process on the default model (the 12B architecture scaled
# down, random weights, real Gemma 4 vocabulary; generated once into /var/cache/gemma-serve).
# Preprocess, CPU workers (TP = 2) and the router join here as their issues land, and the demo
# becomes a multimodal Generate request through the router.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
npm_dir=${GEMMA_NPM_DIR:-/var/cache/gemma-serve/npm}
say() { printf '[cluster] %s\n' "$*"; }

say "setting up the machine (first run: a few minutes)"
scripts/setup.sh </dev/null
say "building"
bazel build -c opt --noshow_progress //service/common:skeleton_server \
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
if [[ ! -f "$model_dir/model.gguf" || ! -f "$model_dir/drafter/config.json" ]]; then
  say "generating the default model and its MTP drafter in $model_dir"
  mkdir -p "$model_dir"
  "$bin/engine/tools/make_test_checkpoint" --hf_dir="$model_dir/hf" --gguf="$model_dir/model.gguf" \
    --drafter_dir="$model_dir/drafter"
fi
prompt_ids=2,105,2364,107,9259,236764,1217,659,611,236881,106,107,105,4368,107
say "demo generation (engine in-process; token ids until the tokenizer lands):"
say "prompt ids: <bos> <|turn> user \\n ... <turn|> \\n <|turn> model \\n"
"$bin/engine/tools/generate" --model="$model_dir/model.gguf" --max_tokens=16 \
  --prompt_ids="$prompt_ids"
say "the same with speculative decoding through the MTP drafter (random weights: few drafts accepted):"
"$bin/engine/tools/generate" --model="$model_dir/hf" --drafter="$model_dir/drafter" \
  --draft_tokens=3 --max_tokens=16 --prompt_ids="$prompt_ids" | cut -f1 | tr '\n' ' '
echo
say "done; stopping"
