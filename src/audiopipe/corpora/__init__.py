"""Corpus adapters: ``prepare_<corpus>(root, output_dir, ...)`` reads a corpus's real on-disk
layout and writes a lhotse-style JSONL manifest (``id, path, sampling_rate, num_samples,
num_channels, duration`` + corpus fields)."""

from audiopipe.corpora._base import (
    CorpusLayoutError,
    MeasuredRIR,
    load_rir,
    load_rirs,
    manifest_path,
    mic_pairs,
)
from audiopipe.corpora.ace import prepare_ace
from audiopipe.corpora.butreverb import prepare_butreverb
from audiopipe.corpora.clarity import ClarityLayoutError, prepare_clarity
from audiopipe.corpora.dechorate import prepare_dechorate
from audiopipe.corpora.locata import prepare_locata
from audiopipe.corpora.meshrir import prepare_meshrir
from audiopipe.corpora.mir import prepare_mir
from audiopipe.corpora.tau_srir import prepare_tau_srir
from audiopipe.corpora.wsj0 import prepare_wsj0

__all__ = [
    "ClarityLayoutError", "CorpusLayoutError", "MeasuredRIR", "load_rir", "load_rirs", "manifest_path",
    "mic_pairs", "prepare_ace", "prepare_butreverb", "prepare_clarity", "prepare_dechorate",
    "prepare_locata", "prepare_meshrir", "prepare_mir", "prepare_tau_srir", "prepare_wsj0",
]
