#!/usr/bin/env bash
# Create .venv and install hutong with its locked dependencies. Safe to run again: an
# up-to-date environment is left as it is. The redirect's hot path is compiled with mypyc
# (setup.py, docs/performance.md); it is rebuilt whenever its sources changed since the last
# build (python -m hutong.native tells), since a stale extension would shadow the edited code.
set -euo pipefail
cd "$(dirname "$0")/.."
lock="requirements/${1:-dev}.lock"
python3 -m venv .venv
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
.venv/bin/uv pip sync --quiet --python .venv/bin/python "$lock"
if ! .venv/bin/python -m hutong.native >/dev/null 2>&1 ||
  { [ "${HUTONG_PURE_PYTHON:-0}" != 1 ] && [ ! -f src/hutong/native_build.json ]; }; then
  echo "bootstrap: compiling the redirect's hot path with mypyc (about a minute) ..." >&2
  .venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps --no-build-isolation \
    --reinstall-package hutong -e .
fi
.venv/bin/python -m hutong.native >&2
