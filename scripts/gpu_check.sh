#!/usr/bin/env bash
# GPU check (issue 14): every GPU path of audiopipe in one short run, one table.
#   bash scripts/gpu_check.sh                      # --device auto, table in benchmarks/out/gpu_check/
#   bash scripts/gpu_check.sh --device cuda --output /tmp/gpu_check/
#   bash scripts/gpu_check.sh --device cpu --quick # the CPU path CI tests
# Arguments go to scripts/gpu_check.py (see its --help); exit code 1 when a row failed.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$py" ] || py="$(command -v python3)"
export PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}"
args=("$@")
case " $* " in *" --output "*|*" --output="*) ;; *) args+=(--output "$repo/benchmarks/out/gpu_check") ;; esac
exec "$py" "$repo/scripts/gpu_check.py" "${args[@]}"
