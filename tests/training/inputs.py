"""Tiny training inputs of every recipe, built from the REAL recordings of ``shared/fixtures``.

Each builder writes the files a recipe's trainer reads, the way the recipe's own stages (or the
recipe's existing test helpers) build them, at a size that trains in seconds:

* Clarity: one crop shard in the ``cache`` stage's contract (``mixture`` (n, 2, T), ``sources``
  (n, 2, 2, T), ``is_val``), 16 kHz: the reverberant S06001 target (both hearing-aid
  microphones of CH1) plus the real CEC2 fan-noise interferer at 0 dB, cut into 0.25-s crops;
* SFI: shards of the ``resample`` stage's contract cut from the real MUSDB18 track at 8 kHz;
* SAR-SSL: signal shards of real speech x measured dEchorate RIRs
  (:mod:`tests.sar_ssl.fixture_shards`), turned into feature shards by ``cache_features``;
* transcoder / STRF: the clip feature shard of the real TAU, UrbanSound8K and pyannote
  recordings (``build_clip_features``), and log-Mel chunks of the real conversation with frame
  labels from its RTTM.

They use the feature functions and the trainers' file contracts only, not the recipes' stage
functions, so that they do not depend on how the recipes wire their stages.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import scipy.signal
import soundfile as sf

from audiopipe.io import atomic_path, read_audio

CLARITY_TARGET = "clarity/clarity_data/dev/scenes/S06001_target_CH1.wav"
CLARITY_NOISE = "clarity/clarity_data/dev/interferers/noise/CIN_fan_014.wav"
MUSDB_TRACK = "music/musdb18hq_sample/train/Music Delta - 80s Rock"
MUSDB_SOURCES = ("vocals", "drums", "bass", "other")
TAU_CLIP = "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav"
US8K_CLIP = "urban/UrbanSound8K/audio/fold5/100032-3-0-0.wav"
PYANNOTE_WAV = "speech/pyannote_sample/sample.wav"
PYANNOTE_RTTM = "speech/pyannote_sample/sample.rttm"


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


def sfi_shards(fixtures: Path, out: Path, sampling_rate: int = 8000, track_s: float = 1.1) -> dict[str, Path]:
    """Train and validation shards in the SFI trainer's contract, from the real MUSDB18 track.

    The mixture and the 4 stems (``vocals, drums, bass, other``) are resampled to
    ``sampling_rate`` and cut into ``track_s`` tracks: 2 for training, the next for validation.
    Each shard holds one group per track with ``mixture`` ``(2, T)`` and ``sources`` ``(4, 2, T)``
    and the file attribute ``sampling_rate``, as ``resample`` writes them.
    """
    track = Path(fixtures) / MUSDB_TRACK
    sigs = {}
    for name in ("mixture", *MUSDB_SOURCES):
        x, sr = read_audio(track / f"{name}.wav")
        sigs[name] = scipy.signal.resample_poly(x.astype(np.float64), sampling_rate, sr, axis=-1).astype(np.float32)
    n = round(track_s * sampling_rate)
    shards = {}
    for split, parts in (("train", (0, 1)), ("valid", (2,))):
        shards[split] = Path(out) / f"{split}_{sampling_rate}.h5"
        with atomic_path(shards[split]) as tmp, h5py.File(tmp, "w") as f:
            for k in parts:
                g = f.create_group(f"music_delta_80s_rock_part{k}")
                g.create_dataset("mixture", data=sigs["mixture"][:, k * n:(k + 1) * n])
                g.create_dataset("sources", data=np.stack([sigs[s][:, k * n:(k + 1) * n] for s in MUSDB_SOURCES]))
            f.attrs.update(sampling_rate=sampling_rate, source=MUSDB_TRACK)
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


def _lhotse_record(fixtures: Path, rel: str, **fields) -> dict:
    info = sf.info(str(Path(fixtures) / rel))
    return {"id": Path(rel).stem, "path": str(Path(fixtures) / rel), "sampling_rate": info.samplerate,
            "num_samples": info.frames, "num_channels": info.channels, "duration": info.frames / info.samplerate,
            "split": "train", **fields}


def _rttm_speech(path: Path) -> list[list[float]]:
    """Speech regions ``[start, end]`` (s) of an RTTM file, merged where speakers overlap."""
    regions = sorted((float(f[3]), float(f[3]) + float(f[4]))
                     for f in (line.split() for line in Path(path).read_text().splitlines()) if f and f[0] == "SPEAKER")
    merged: list[list[float]] = []
    for a, b in regions:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def transcoder_features(fixtures: Path, out: Path, classes: list[str]) -> dict[str, Path]:
    """Clip shard of the transcoder recipe and speech-activity chunks of the STRF recipe.

    * ``clips.h5``: :func:`audiopipe.features.clips.build_clip_features` (third-octave levels,
      PANN/YAMNet log-Mel, labels) of the real TAU street recording (``street_pedestrian``), the
      UrbanSound8K dog bark (``dog_bark``) and the pyannote conversation (``speech`` where its RTTM
      says so), all in the training split;
    * ``sad.h5``: ``x`` ``(n, 64, 200)`` normalised log-Mel (:data:`audiopipe.features.mel.SAD`)
      chunks of the first 12 s of the pyannote conversation, 1-s hop, and ``y`` ``(n, 200)``
      frame labels from its RTTM (the STRF recipe's speech-activity training data).
    """
    from audiopipe.features import mel as melmod
    from audiopipe.features.clips import build_clip_features
    from audiopipe.io import write_jsonl
    from audiopipe.metrics.detection import regions_to_frames

    fixtures, out = Path(fixtures), Path(out)
    speech = _rttm_speech(fixtures / PYANNOTE_RTTM)
    records = [_lhotse_record(fixtures, TAU_CLIP, scene_label="street_pedestrian"),
               _lhotse_record(fixtures, US8K_CLIP, label="dog_bark"),
               _lhotse_record(fixtures, PYANNOTE_WAV, speech=speech)]
    write_jsonl(out / "clips.jsonl", records)
    build_clip_features([out / "clips.jsonl"], out / "clips.h5", classes)

    x, sr = read_audio(fixtures / PYANNOTE_WAV)
    x = x.mean(0)[: 12 * sr]
    mel = melmod.log_mel(x, melmod.SAD).numpy().astype(np.float32)
    hop_s = melmod.SAD.hop / melmod.SAD.sampling_rate
    labels = regions_to_frames(speech, mel.shape[1], hop_s)
    n = round(2.0 / hop_s)
    starts = range(0, mel.shape[1] - n + 1, n // 2)
    chunks = np.stack([mel[:, k:k + n] for k in starts])
    with atomic_path(out / "sad.h5") as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("x", data=((chunks - mel.mean()) / mel.std()).astype(np.float32))
        f.create_dataset("y", data=np.stack([labels[k:k + n] for k in starts]).astype(np.float32))
        f.attrs.update(source=PYANNOTE_WAV, hop_s=hop_s)
    return {"clips": out / "clips.h5", "sad": out / "sad.h5"}
