#!/usr/bin/env bash
# Bootstrap hutong on a fresh machine and run the Double 11 demo: a fresh data directory
# (var/demo), the providers' and carriers' emulators, the scenario played through the real
# HTTP API, then hutong keeps serving on :8000 and prints the key to sign in with.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh runtime
exec .venv/bin/hutong demo --port "${HUTONG_PORT:-8000}" "$@"
