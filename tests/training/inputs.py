"""Tiny training inputs of every recipe, built from the REAL recordings of ``shared/fixtures``.

Each builder writes the files a recipe's trainer reads, the way the recipe's own stages (or the
recipe's existing test helpers) build them, at a size that trains in seconds:

* Clarity: one crop shard in the ``cache`` stage's contract (``mixture`` (n, 2, T), ``sources``
  (n, 2, 2, T), ``is_val``), 16 kHz: the reverberant S06001 target (both hearing-aid
  microphones of CH1) plus the real CEC2 fan-noise interferer at 0 dB, cut into 0.25-s crops;
* SFI: the MUSDB18-HQ demo corpus cut from the real track by the recipe's ``demo`` stage,
  prepared and resampled to 8 kHz by the recipe's ``prepare``/``resample_split`` stages;
* SAR-SSL: signal shards of real speech x measured dEchorate RIRs
  (:mod:`tests.sar_ssl.fixture_shards`), turned into feature shards by ``cache_features``;
* transcoder / STRF: the demo corpora (TAU, UrbanSound8K, AMI layouts) cut from the fixture
  recordings and the recipes' ``features`` stages.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import scipy.signal

from audiopipe.io import atomic_path, read_audio

CLARITY_TARGET = "clarity/clarity_data/dev/scenes/S06001_target_CH1.wav"
CLARITY_NOISE = "clarity/clarity_data/dev/interferers/noise/CIN_fan_014.wav"
MUSDB_TRACK = "music/musdb18hq_sample/train/Music Delta - 80s Rock"


def clarity_shard(fixtures: Path, path: Path, crop_s: float = 0.25, n_train: int = 8, n_val: int = 4) -> Path:
    """Crop shard of the Clarity ``cache`` contract from the real S06001 target and fan noise.

    The interferer is the mono fan recording on both ear channels, the right one 8 samples later
    (an interaural delay of 0.5 ms), scaled to 0 dB SNR over each crop; the mixture is their sum.
    Crops are taken from the active part of the target (its 2nd to 5th second); the last
    ``n_val`` crops are flagged ``is_val``.
    """
    fs = 16000
    target, sr = read_audio(Path(fixtures) / CLARITY_TARGET)
    target = scipy.signal.resample_poly(target.astype(np.float64), fs, sr, axis=-1)
    noise, sr_n = read_audio(Path(fixtures) / CLARITY_NOISE)
    noise = scipy.signal.resample_poly(noise[0].astype(np.float64), fs, sr_n)
    n = round(crop_s * fs)
    total = n_train + n_val
    starts = np.linspace(2 * fs, 5 * fs - n, total).astype(int)
    mixes, sources = [], []
    for k, a in enumerate(starts):
        t = target[:, a:a + n]
        b = k * n
        i = np.stack([noise[b + 8:b + 8 + n], noise[b:b + n]])  # left leads by 8 samples
        i *= np.sqrt((t ** 2).sum() / (i ** 2).sum())
        sources.append(np.stack([t, i]))
        mixes.append(t + i)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("mixture", data=np.stack(mixes).astype(np.float32))
        f.create_dataset("sources", data=np.stack(sources).astype(np.float32))
        f.create_dataset("is_val", data=np.arange(total) >= n_train)
        f.attrs.update(sampling_rate=fs, source=f"{CLARITY_TARGET} + {CLARITY_NOISE}")
    return Path(path)


def sfi_shards(fixtures: Path, out: Path, sampling_rate: int = 8000) -> dict[str, Path]:
    """Train and validation shards of the SFI recipe (demo corpus from the real MUSDB track)."""
    from audiopipe.recipes import sfi

    out = Path(out)
    sfi.demo(Path(fixtures) / MUSDB_TRACK, out / "musdb", 1.1, {"train": 2, "valid": 1, "test": 1})
    sfi.prepare(out / "musdb", out / "manifests", out / "musdb/valid_tracks.txt")
    shards = {}
    for split in ("train", "valid"):
        shards[split] = out / f"{split}_{sampling_rate}.h5"
        sfi.resample_split(out / f"manifests/musdb_{split}.jsonl", shards[split], sampling_rate)
    return shards


def sar_ssl_features(fixtures: Path, out: Path) -> dict[str, Path]:
    """Feature shards ``pretrain``, ``train``, ``val``, ``test`` (real speech x dEchorate RIRs)."""
    from audiopipe.features.stft import cache_features
    from tests.sar_ssl.fixture_shards import build_fixture_shards

    out = Path(out)
    signals = build_fixture_shards(fixtures, out / "signals",
                                   rooms={"pretrain": 4, "train": 4, "val": 2, "test": 2}, per_room=3)
    feats = {}
    for name, p in signals.items():
        feats[name] = out / f"{name}.h5"
        cache_features(p, feats[name])
    return feats


def transcoder_features(fixtures: Path, out: Path, classes: list[str]) -> dict[str, Path]:
    """Clip shard (transcoder and STRF urban) and speech-activity features (STRF SAD)."""
    from audiopipe.recipes import strf, transcoder

    out = Path(out)
    transcoder.demo(fixtures, out / "demo")
    m = out / "manifests"
    transcoder.prepare(out / "demo/tau_urban", out / "demo/urbansound8k", out / "demo/ami", m)
    urban = [m / f"{n}.jsonl" for n in ("tau_urban_train", "tau_urban_evaluate", "urbansound8k")]
    sad = [m / "ami_train.jsonl", m / "ami_test.jsonl"]
    transcoder.features([*urban, *sad], out / "clips.h5", classes)
    strf.features(sad, urban, out / "sad.h5", out / "strf_clips.h5", classes)
    return {"clips": out / "clips.h5", "sad": out / "sad.h5", "strf_clips": out / "strf_clips.h5"}
