#!/usr/bin/env bash
# The main job: sets the machine up, builds, starts the local cluster on 127.0.0.1 and sends it
# the demo request, then stops what it started.
#
# Today the cluster is the common server skeleton (health + reflection); the demo request checks
# it through a foreign client (buf curl). Preprocess, CPU workers (TP = 2) and the router join here
# as their issues land, and the demo becomes a multimodal Generate request.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
npm_dir=${GEMMA_NPM_DIR:-/var/cache/gemma-serve/npm}
say() { printf '[cluster] %s\n' "$*"; }

say "setting up the machine (first run: a few minutes)"
scripts/setup.sh </dev/null
say "building"
bazel build -c opt --noshow_progress //service/common:skeleton_server </dev/null 2>&1 |
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
start skeleton "$bin/service/common/skeleton_server"
port=$started_port
say "skeleton server on 127.0.0.1:$port"

say "demo request: reflection, then grpc.health.v1.Health/Check"
buf=("$npm_dir/node_modules/.bin/buf" curl --protocol grpc --http2-prior-knowledge)
"${buf[@]}" --list-methods "http://127.0.0.1:$port"
"${buf[@]}" -d '{}' "http://127.0.0.1:$port/grpc.health.v1.Health/Check"
say "done; stopping"
