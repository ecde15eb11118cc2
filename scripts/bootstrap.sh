#!/usr/bin/env bash
# Create .venv and install hutong with its locked dependencies. Safe to run again:
# an up-to-date environment is left as it is (uv sync is a no-op then).
set -euo pipefail
cd "$(dirname "$0")/.."
lock="requirements/${1:-dev}.lock"
python3 -m venv .venv
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
.venv/bin/uv pip sync --quiet --python .venv/bin/python "$lock"
.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps -e .
