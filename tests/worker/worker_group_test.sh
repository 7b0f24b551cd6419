#!/usr/bin/env bash
# Tensor-parallel CPU worker groups in separate processes; see worker_group_check.py.
set -euo pipefail
here=$(dirname "$0")
exec /usr/bin/python3 "$here/worker_group_check.py" \
  --launcher "$here/../../service/worker/worker_launcher" \
  --worker "$here/../../service/worker/worker" \
  --make_checkpoint "$here/../../engine/tools/make_test_checkpoint" \
  --proto_root "$here/../../proto"
