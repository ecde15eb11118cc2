#!/usr/bin/env bash
# What the benchmarks need beyond the Python environment: nginx (the baseline) and wrk.
set -euo pipefail
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nginx-light wrk >/dev/null
fi
