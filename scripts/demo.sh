#!/usr/bin/env bash
# Bootstrap hutong on a fresh machine and run it: migrate, seed the article's platforms and
# link-policy history, then serve the API (with the /j/ jump listener and a worker) on :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh runtime
export HUTONG_DATA_DIR="${HUTONG_DATA_DIR:-$PWD/var}"
.venv/bin/hutong db upgrade
.venv/bin/hutong seed
exec .venv/bin/hutong serve --host "${HUTONG_HOST:-127.0.0.1}" --port "${HUTONG_PORT:-8000}"
