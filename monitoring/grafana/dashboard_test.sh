#!/usr/bin/env bash
# Runs from the runfiles root (Bazel's working directory for tests).
set -euo pipefail
exec /usr/bin/python3 monitoring/grafana/dashboard_check.py monitoring/grafana/gemma-serve.json \
  docs/metrics.md
