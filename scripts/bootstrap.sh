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
# uv pip sync removes the editable hutong (it is not in the lock); put it back, compiling only
# when the extensions beside the sources are missing or stale.
status=$(PYTHONPATH=src .venv/bin/python -m hutong.native 2>/dev/null || true)
install=(.venv/bin/uv pip install --quiet --python .venv/bin/python --no-deps --no-build-isolation
  --reinstall-package hutong -e .)
if [ "${HUTONG_PURE_PYTHON:-0}" = 1 ] || [[ "$status" == "hot path compiled"* ]]; then
  HUTONG_NATIVE_KEEP=1 "${install[@]}"
else
  echo "bootstrap: compiling the redirect's hot path with mypyc (about a minute) ..." >&2
  "${install[@]}"
fi
.venv/bin/python -m hutong.native >&2
