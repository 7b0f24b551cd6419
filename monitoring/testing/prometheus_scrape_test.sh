#!/usr/bin/env bash
# Our exposition against the real thing: `promtool check metrics` (Debian prometheus 2.42) finds
# nothing but the documented lint on the vLLM-style ':' name, and a real Prometheus server scrapes
# /metrics, after which PromQL sees the counter values and histogram_quantile returns a number.
set -euo pipefail
fixture=$1
work=${TEST_TMPDIR:-$(mktemp -d)}
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# 1. promtool on the exposition text.
"$fixture" --print >"$work/exposition.txt"
set +e
promtool check metrics <"$work/exposition.txt" >"$work/promtool.txt" 2>&1
status=$?
set -e
findings=$(grep -v "^$" "$work/promtool.txt" | grep -v "vllm:num_requests_waiting" || true)
if [[ -n "$findings" || ($status -ne 0 && $status -ne 3) ]]; then
  echo "promtool (exit $status):"; cat "$work/promtool.txt"; exit 1
fi
echo "promtool: clean apart from the documented vLLM-name lint"

# 2. A real Prometheus scrapes the fixture over HTTP.
"$fixture" --port_file="$work/fixture.port" & pids+=($!)
for _ in $(seq 100); do [[ -s "$work/fixture.port" ]] && break; sleep 0.05; done
fixture_port=$(cat "$work/fixture.port")
prom_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: fixture
    static_configs:
      - targets: ["127.0.0.1:${fixture_port}"]
YAML
prometheus --config.file="$work/prometheus.yml" --web.listen-address="127.0.0.1:${prom_port}" \
  --storage.tsdb.path="$work/tsdb" >"$work/prometheus.log" 2>&1 & pids+=($!)

query() {
  /usr/bin/python3 - "$prom_port" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
port, q = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
try:
    data = json.load(urllib.request.urlopen(url, timeout=2))
except Exception:
    print(""); sys.exit(0)
result = data.get("data", {}).get("result", [])
print(result[0]["value"][1] if result else "")
PY
}
value=""
for _ in $(seq 60); do
  value=$(query 'gemma_fixture_requests_total{kind="text"}')
  [[ -n "$value" ]] && break
  sleep 0.5
done
[[ "$value" == "42" ]] || { echo "scraped text counter: '$value'"; tail -5 "$work/prometheus.log"; exit 1; }
[[ $(query 'sum(gemma_fixture_requests_total)') == "49" ]] || { echo "sum mismatch"; exit 1; }
[[ $(query 'vllm:num_requests_waiting{model_name="gemma-4-12b"}') == "3" ]] || exit 1
p50=$(query 'histogram_quantile(0.5, sum by (le) (gemma_fixture_latency_seconds_bucket))')
/usr/bin/python3 -c "import sys; v=float('$p50'); sys.exit(0 if 0.3 <= v <= 0.8 else 1)" ||
  { echo "p50 '$p50' not in [0.3, 0.8]"; exit 1; }
echo "prometheus scraped: requests{text}=42, sum=49, p50 latency=${p50}s"
