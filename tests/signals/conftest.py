"""A tiny speech manifest built from the real fixture recordings."""

from __future__ import annotations

import pytest
import soundfile as sf

from audiopipe.io import write_jsonl
from tests._torch_threads import one_torch_thread  # noqa: F401  (autouse)


@pytest.fixture
def speech_manifest(fixtures_dir, tmp_path):
    recs = []
    for p in sorted((fixtures_dir / "speech/cmu_arctic").glob("*.wav")):
        info = sf.info(p)
        recs.append({"id": p.stem, "path": str(p), "sampling_rate": info.samplerate, "num_samples": info.frames,
                     "num_channels": info.channels, "duration": info.frames / info.samplerate, "speaker": p.stem.split("_")[3]})
    sample = fixtures_dir / "speech/pyannote_sample/sample.wav"
    for k in range(4):  # cut the 30-s recording into 5-s segments
        recs.append({"id": f"sample-{k}", "path": str(sample), "sampling_rate": 16000, "num_samples": 80000,
                     "num_channels": 1, "duration": 5.0, "start": 5.0 * k, "speaker": "pyannote"})
    path = tmp_path / "speech.jsonl"
    write_jsonl(path, recs)
    return path
