#!/usr/bin/env bash
# The whole test suite: bootstrap the environment, lint, type-check, then the fast tier, the
# slow tier (kill -9 under load, large corpora) and every benchmark at its quick size (so none
# can rot; a quick run writes no figures). PostgreSQL tests use HUTONG_TEST_POSTGRES_URL
# (default: the local server's database 'test'); under CI=true they fail rather than skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh dev
# the console's browser tests drive Debian's Chromium (with a Chinese font); install them
# where we may (root with apt), else those tests skip, or fail under CI=true
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  packages=(chromium fonts-wqy-microhei)
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${packages[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq "${packages[@]}" >/dev/null; }
fi
export HUTONG_TEST_POSTGRES_URL="${HUTONG_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/mypy
.venv/bin/python -m pytest -m "not slow" "$@"
.venv/bin/python -m pytest -m slow "$@"
# the dependency audit: a report; fails only on unreviewed advisories in a changed lock
.venv/bin/python scripts/audit.py
# nginx and wrk are the redirect benchmark's baseline and load (Debian packages)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then bash bench/setup.sh; fi
.venv/bin/python bench/run.py --quick
