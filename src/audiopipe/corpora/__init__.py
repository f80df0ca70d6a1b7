"""Corpus adapters: ``prepare_<corpus>(root, output_dir, ...)`` reads a corpus's real on-disk
layout and writes lhotse-style manifests (``id, path, sampling_rate, num_samples, num_channels,
duration`` + corpus fields). :mod:`audiopipe.corpora.registry` lists them with the manifests
they write; one generic rule prepares each configured corpus once.

The adapters are imported when first used (``from audiopipe.corpora import prepare_ace``), so
that reading the registry while the DAG is built stays fast.
"""

from __future__ import annotations

import importlib

#: public name -> module that defines it
_EXPORTS = {
    "CorpusLayoutError": "_base", "MeasuredRIR": "_base", "load_rir": "_base", "load_rirs": "_base",
    "manifest_path": "_base", "mic_pairs": "_base", "write_manifest": "_base",
    "ClarityLayoutError": "clarity", "prepare_clarity": "clarity", "prepare_clarity_split": "clarity",
    "prepare_ace": "ace", "prepare_butreverb": "butreverb", "prepare_dechorate": "dechorate",
    "prepare_locata": "locata", "prepare_meshrir": "meshrir", "prepare_mir": "mir",
    "prepare_tau_srir": "tau_srir", "prepare_wsj0": "wsj0", "prepare_ami": "ami", "prepare_musdb": "musdb",
    "prepare_sonyc_ust": "sonyc_ust", "prepare_tau_urban": "tau_urban", "prepare_urbansound8k": "urbansound8k",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'audiopipe.corpora' has no attribute {name!r}")
    return getattr(importlib.import_module(f"audiopipe.corpora.{_EXPORTS[name]}"), name)
