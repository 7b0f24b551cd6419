#!/usr/bin/env bash
# Foreign clients (python3-grpcio, buf) against the skeleton server; see skeleton_server_check.py.
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/skeleton_server_check.py" --server "$1"
