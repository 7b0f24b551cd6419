"""The example Grafana dashboard against the metrics reference and a real PromQL parser: every
panel's expressions parse (`promtool check rules` on them as recording rules, Grafana's
variables substituted) and every metric they read is documented in docs/metrics.md."""
import json
import re
import subprocess
import sys
import tempfile

dashboard_path, reference_path = sys.argv[1], sys.argv[2]
dashboard = json.load(open(dashboard_path))
reference = open(reference_path).read()
documented = set(re.findall(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)`", reference, re.M))
assert len(documented) > 30, f"only {len(documented)} metrics found in {reference_path}"

expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
assert len(expressions) >= 20, len(expressions)
promql_words = {"sum", "by", "rate", "histogram_quantile", "max", "le", "kind", "rank", "position",
                "reason", "finished_reason", "grpc_method", "grpc_code", "outcome", "rpc",
                "model_name", "without", "count"}
missing = set()
for expr in expressions:
    for name in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[\{\[]", expr):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in promql_words and name not in documented and base not in documented:
            missing.add(name)
assert not missing, f"dashboard reads undocumented metrics: {sorted(missing)}"

rules = {"groups": [{"name": "dashboard", "rules": [
    {"record": f"dashboard:expr_{i}",
     "expr": e.replace("$__rate_interval", "1m").replace("$model_name", ".*")}
    for i, e in enumerate(expressions)]}]}
with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
    json.dump(rules, f)  # YAML is a superset of JSON.
result = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
assert result.returncode == 0, result.stdout + result.stderr
print(f"dashboard: {len(dashboard['panels'])} panels, {len(expressions)} expressions parse and "
      f"read only documented metrics")
