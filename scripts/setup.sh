#!/usr/bin/env bash
# Set up audiopipe on a fresh machine: a virtual environment in .venv with everything installed.
# Idempotent: rerunning only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install --quiet --upgrade pip
# torch first, pinned to the CPU build that lies on disk here (plain `torch` pulls a CUDA build)
$PIP install --quiet torch==2.13.0
$PIP install --quiet -e ".[test]"
# pyclarity without its declared dependencies: its metadata asks for torchaudio (which does not
# load beside this torch) and for packages NAL-R, the compressor and HASPI/HASQI never import;
# what those modules need is in pyproject.toml.
$PIP install --quiet --no-deps pyclarity==0.9.0
# real speech for the demo corpus on machines without ../shared/fixtures: the pyannote.audio
# wheel ships a 30-s real conversation (never imported, only unzipped)
if ! ls data/downloads/pyannote_audio-*.whl >/dev/null 2>&1; then
  $PIP download --quiet --no-deps pyannote.audio==4.0.7 -d data/downloads
fi
.venv/bin/python -c "import audiopipe, clarity.evaluator.haspi, torch, snakemake; print('audiopipe', audiopipe.__version__, '| torch', torch.__version__)"
