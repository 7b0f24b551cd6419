#!/usr/bin/env bash
# The local cluster (preprocess, TP = 2 workers, router) end to end; see router_check.py.
set -euo pipefail
here=$(dirname "$0")
exec /usr/bin/python3 "$here/router_check.py" \
  --router "$here/../../service/router/router" \
  --preprocess "$here/../../service/preprocess/preprocess_server" \
  --launcher "$here/../../service/worker/worker_launcher" \
  --worker "$here/../../service/worker/worker" \
  --make_checkpoint "$here/../../engine/tools/make_test_checkpoint" \
  --generate "$here/../../engine/tools/generate" \
  --proto_root "$here/../../proto" \
  --client "$here/../../client/gemma_client" \
  --tls_dir "$here/../testdata/tls"
