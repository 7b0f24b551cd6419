#!/usr/bin/env bash
# Router benchmark, optimised build, on one worker rank (TP = 1) of a generated checkpoint:
#  1. Overhead of the router + gRPC path at batch 1: the same prompt ids, greedy, 64 tokens,
#     MTP off, through the cluster (gemma_loadgen, one client) against the in-process engine
#     (`generate`), both single-threaded, measured here in this run; prints the ratio of
#     per-token decode times and of time to first token vs the engine's prefill.
#  2. Load: closed loop at 1/4/16 clients and an open loop, throughput and TTFT / inter-token /
#     end-to-end p50, p90, p99 (gemma_loadgen).
#   service/router/bench/router_bench.sh [--layers=N]   (default 12)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$repo"
layers=12
for arg in "$@"; do
  case $arg in --layers=*) layers=${arg#*=} ;; *) echo "unknown argument $arg" >&2; exit 2 ;; esac
done
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '[router_bench] %s\n' "$*" >&2; }

bazel build -c opt --noshow_progress //engine/tools:make_test_checkpoint //engine/tools:generate \
  //service/preprocess:preprocess_server //service/worker:worker //service/worker:worker_launcher \
  //service/router:router //client:gemma_loadgen >/dev/null 2>&1
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
model="$work/model"
"$bin/engine/tools/make_test_checkpoint" --hf_dir="$model" --layers="$layers" --seed=5 \
  --write_tokenizer >/dev/null 2>&1
ids=2$(for i in $(seq 1 31); do printf ',%d' $((1000 + i * 977)); done)
tokens=64

wait_file() { for _ in $(seq 1200); do [[ -s "$1" ]] && return; sleep 0.1; done; say "no $1"; exit 1; }
export OMP_NUM_THREADS=1
"$bin/service/preprocess/preprocess_server" --port=0 --port_file="$work/pre.port" --model="$model" \
  >"$work/pre.log" 2>&1 & pids+=($!)
"$bin/service/worker/worker_launcher" --world_size=1 --state_file="$work/workers.json" -- \
  --model="$model" >"$work/workers.log" 2>&1 & pids+=($!)
wait_file "$work/pre.port"
wait_file "$work/workers.json"
"$bin/service/router/router" --port=0 --port_file="$work/router.port" --tokenizer="$model" \
  --preprocess="127.0.0.1:$(cat "$work/pre.port")" --worker_group_state="$work/workers.json" \
  --kv_blocks=512 --max_context=2048 --max_batch_tokens=512 >"$work/router.log" 2>&1 & pids+=($!)
wait_file "$work/router.port"
server="127.0.0.1:$(cat "$work/router.port")"
loadgen() { "$bin/client/gemma_loadgen" --server="$server" --max_tokens="$tokens" "$@"; }

# 1. Overhead at batch 1, alternating engine and cluster runs so drift hits both.
engine_decode=() engine_prefill=() router_itl=() router_ttft=()
for round in 1 2 3; do
  line=$("$bin/engine/tools/generate" --model="$model" --prompt_ids="$ids" --max_tokens="$tokens" \
    --stop_at_eos=false --threads=1 2>&1 >/dev/null | grep '^prefill:')
  engine_prefill+=("$(echo "$line" | sed -E 's/^prefill: ([0-9]+) tokens, ([0-9.]+) tokens.*/\1 \2/')")
  engine_decode+=("$(echo "$line" | sed -E 's/.*decode: [0-9]+ tokens, ([0-9.]+) tokens.*/\1/')")
  json=$(loadgen --prompt_ids="$ids" --requests=5 --concurrency=1 --speculative=off --json)
  router_itl+=("$(echo "$json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["itl_s"]["mean"])')")
  router_ttft+=("$(echo "$json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ttft_s"]["p50"])')")
done
/usr/bin/python3 - "${engine_decode[*]}" "${router_itl[*]}" "${engine_prefill[*]}" "${router_ttft[*]}" <<'PY'
import statistics, sys
decode = [float(x) for x in sys.argv[1].split()]          # engine tokens/s
itl = [float(x) for x in sys.argv[2].split()]             # router s/token
pre = sys.argv[3].split()
pre = [(float(pre[i]), float(pre[i + 1])) for i in range(0, len(pre), 2)]  # (tokens, tokens/s)
ttft = [float(x) for x in sys.argv[4].split()]
engine_ms = statistics.median(1000 / d for d in decode)
router_ms = statistics.median(1000 * t for t in itl)
engine_prefill_ms = statistics.median(1000 * n / r for n, r in pre)
router_ttft_ms = statistics.median(1000 * t for t in ttft)
print("batch-1 overhead (medians of 3 alternating rounds, one thread each):")
print(f"  decode ms/token   engine {engine_ms:8.2f}   router+gRPC {router_ms:8.2f}   "
      f"overhead {100 * (router_ms / engine_ms - 1):+6.1f} %   (target <= +5 %)")
print(f"  first token ms    engine prefill+sample {engine_prefill_ms:8.2f}   router TTFT {router_ttft_ms:8.2f}   "
      f"ratio {router_ttft_ms / engine_prefill_ms:5.2f}x (includes preprocess and the first step)")
PY

# 2. Load.
echo "load (chats of 32 words, $tokens tokens each, server's MTP policy):"
for clients in 1 4 16; do
  loadgen --requests=$((clients * 4)) --concurrency="$clients" | sed 's/^/  /'
done
loadgen --requests=32 --rate=4 --concurrency=32 | sed 's/^/  /'
