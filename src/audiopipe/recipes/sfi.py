"""SFI recipe: sampling-frequency-independent Conv-TasNet on MUSDB18-HQ, evaluated at unseen rates.

Reproduces the comparison of Saito et al. (TASLP 2022): a Conv-TasNet whose encoder and
decoder are SFI layers, trained at 32 kHz, separates music at 8, 16, 32 and 48 kHz; it is compared
with a plain Conv-TasNet trained at 32 kHz, applied either to the signal resampled to 32 kHz
("resampling") or directly at the input rate ("plain"). Score: BSSEval v4 SDR (museval), median
over 1-s frames, median over tracks, per source.

Stages: ``resample`` (per split and rate) → ``train`` (sfi, plain) → ``evaluate`` (one job per
chunk of test tracks × setting) → ``summarize`` (per setting: ``scores.csv`` per track,
``metrics.json`` with the median over tracks). The MUSDB18-HQ manifests come from the generic
corpus rule, the plan table and its SDR-vs-rate plot from the generic table rule.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from audiopipe.io import atomic_path, write_json
from audiopipe.pipeline.registry import Recipe, TableSpec

log = logging.getLogger(__name__)

METHODS = ("sfi", "resampling", "plain")


def resample_split(manifest: Path, output: Path, sampling_rate: int) -> None:
    """Cache a split resampled to one rate as an HDF5 shard.

    Parameters
    ----------
    manifest : Path
        Split manifest from ``prepare``.
    output : Path
        HDF5 shard.
    sampling_rate : int
        Target rate (Hz).
    """
    from audiopipe.corpora.musdb import resample_tracks

    n = resample_tracks(manifest, output, sampling_rate)
    log.info("%s: %d tracks at %d Hz", output, n, sampling_rate)


def train(train_shard: Path, valid_shard: Path, output: Path, kind: str, model: dict,
          training: dict) -> None:
    """Train the SFI or the plain Conv-TasNet at the shards' rate.

    Parameters
    ----------
    train_shard, valid_shard : Path
        HDF5 shards from ``resample`` (training rate).
    output : Path
        ``model.pt`` to write; checkpoints go beside it (``checkpoints/last.ckpt``).
    kind : str
        ``sfi`` or ``plain``.
    model : dict
        The params ``model`` section: shared sizes (N, L, B, H, P, X, R, mask_act, norm) and an
        ``sfi`` sub-dict (filters, design, filter_params, n_freqs, weight_scale, stride).
    training : dict
        sampling_rate (the shards' rate, checked), segment_seconds, batch_size, epochs,
        steps_per_epoch, valid_segments, lr, weight_decay, grad_clip, seed.
    """
    from audiopipe.training.sfi import train_separator

    if Path(output).name != "model.pt":
        raise ValueError(f"output must be named model.pt, got {output}")
    from audiopipe.pipeline.provenance import run_fingerprint

    fingerprint = run_fingerprint(RECIPE.stages["train"], {"kind": kind, "model": model, "training": training},
                                  [train_shard, valid_shard])
    training = dict(training)
    training.pop("sampling_rate", None)  # the shards' rate is the training rate
    train_separator(train_shard, valid_shard, Path(output).parent, kind, model_config(kind, model),
                    **training, fingerprint=fingerprint)


def model_config(kind: str, model: dict) -> dict:
    """Keyword arguments of the model class from the params ``model`` section.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    shared = {k: v for k, v in model.items() if k != "sfi"}
    if kind == "plain":
        return shared
    if kind == "sfi":
        return {**shared, **dict(model.get("sfi") or {})}
    raise ValueError(f"unknown model kind {kind!r}: expected 'sfi' or 'plain'")


def separate(net, mixture: np.ndarray, fs: int, method: str, train_fs: int,
             chunk_seconds: float = 0.0) -> np.ndarray:
    """Separate ``mixture (channels, samples)`` at ``fs`` Hz → ``(4, channels, samples)``.

    ``sfi``/``plain``: the network runs at ``fs`` (the SFI one generates its weights for ``fs``).
    ``resampling``: polyphase-resample to ``train_fs``, separate, resample back to ``fs``.
    ``chunk_seconds`` > 0 processes consecutive non-overlapping chunks (bounded memory on full
    tracks; 0 = the whole track at once).

    Raises
    ------
    ValueError
        For an unknown ``method``.
    """
    import torch

    from audiopipe.corpora.musdb import resample

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: expected one of {METHODS}")
    run_fs = train_fs if method == "resampling" else fs
    x = resample(mixture, fs, run_fs) if method == "resampling" else mixture.astype(np.float32)
    n = x.shape[-1]
    step = n if chunk_seconds <= 0 else max(1, int(round(chunk_seconds * run_fs)))
    parts = []
    with torch.no_grad():
        for a in range(0, n, step):
            seg = torch.from_numpy(np.ascontiguousarray(x[None, :, a:a + step]))
            parts.append(net(seg, run_fs)[0].numpy())
    y = np.concatenate(parts, axis=-1)
    if method == "resampling":
        y = resample(y, run_fs, fs)
        m = mixture.shape[-1]
        y = y[..., :m] if y.shape[-1] >= m else np.pad(y, ((0, 0), (0, 0), (0, m - y.shape[-1])))
    return y


def evaluate(model: Path, shard: Path, method: str, output: Path, chunk: int = 0, n_chunks: int = 1,
             chunk_seconds: float = 0.0) -> None:
    """Separate one chunk of the test tracks at one rate with one method and score them (BSSEval v4 SDR).

    Parameters
    ----------
    model : Path
        ``model.pt`` (SFI model for method ``sfi``, plain model for ``resampling``/``plain``).
    shard : Path
        Test shard at the evaluation rate (from ``resample``).
    method : str
        ``sfi``, ``resampling`` or ``plain``.
    output : Path
        JSON: per track, the per-source SDR (median over 1-s frames) and the framewise SDRs;
        timings go to ``<output stem>.timing.json``.
    chunk : int
        Index of this job's chunk: it scores tracks ``chunk::n_chunks`` (sorted ids).
    n_chunks : int
        Number of chunks.
    chunk_seconds : float
        Inference chunk length (s); 0 = whole track.

    Raises
    ------
    ValueError
        If the model does not fit the method, or ``chunk`` is out of range.
    """
    import h5py
    import torch

    from audiopipe.corpora.musdb import SOURCES, read_shard_track
    from audiopipe.metrics.bss import track_sdr

    torch.set_num_threads(1)
    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} out of range for {n_chunks} chunks")
    net, train_fs = load_separator(model)
    if method == "sfi" and not hasattr(net, "encoder") or method != "sfi" and hasattr(net, "encoder"):
        raise ValueError(f"{model}: a {type(net).__name__} cannot be evaluated with method {method!r}")
    with h5py.File(shard, "r") as h5:
        tracks = sorted(h5.keys())[chunk::n_chunks]
    results, timing = {}, {}
    for track in tracks:
        mix, refs, fs = read_shard_track(shard, track)
        t0 = time.perf_counter()
        est = separate(net, mix, fs, method, train_fs, chunk_seconds)
        t1 = time.perf_counter()
        med, frames = track_sdr(refs, est, fs)
        timing[track] = {"seconds_separation": t1 - t0, "seconds_bss_eval": time.perf_counter() - t1,
                         "duration": mix.shape[-1] / fs}
        results[track] = {"method": method, "sampling_rate": fs, "train_sampling_rate": train_fs,
                          "duration": mix.shape[-1] / fs,
                          "SDR": {s: _num(v) for s, v in zip(SOURCES, med)},
                          "SDR_frames": {s: [_num(v) for v in f] for s, f in zip(SOURCES, frames)}}
    write_json(output, results)
    write_json(Path(output).with_suffix(".timing.json"), timing)


def load_separator(path: Path):
    """Load a ``model.pt`` written by ``train``: (model in eval mode, training rate)."""
    import torch

    from audiopipe.models.sfi_convtasnet import build_model

    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(blob["kind"], blob["config"])
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, int(blob["sampling_rate"])


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def summarize(chunks: list[Path], scores: Path, metrics: Path) -> None:
    """One setting's per-track SDRs: ``scores.csv`` (a row per track) and ``metrics.json``
    (median over tracks per source, SiSEC's statistic, and the average over sources).

    Parameters
    ----------
    chunks : list of Path
        JSON files from ``evaluate``.
    scores : Path
        CSV: ``track, SDR_vocals, SDR_drums, SDR_bass, SDR_other, SDR_avg`` (dB); the tables
        show mean ± std over tracks.
    metrics : Path
        ``SDR_<source>`` (median over tracks, dB), ``SDR_avg`` (mean of the four), ``n`` tracks.

    Raises
    ------
    ValueError
        If the chunks hold no track.
    """
    import pandas as pd

    from audiopipe.corpora.musdb import SOURCES

    rows = []
    for c in chunks:
        for track, r in json.loads(Path(c).read_text()).items():
            row = {"track": track, **{f"SDR_{s}": (np.nan if r["SDR"][s] is None else r["SDR"][s]) for s in SOURCES}}
            row["SDR_avg"] = float(np.nanmean([row[f"SDR_{s}"] for s in SOURCES]))
            rows.append(row)
    if not rows:
        raise ValueError(f"{metrics}: no per-track results to summarize")
    df = pd.DataFrame(rows).sort_values("track")
    with atomic_path(scores) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    out = {f"SDR_{s}": _num(np.nanmedian(df[f"SDR_{s}"])) if df[f"SDR_{s}"].notna().any() else None
           for s in SOURCES}
    out["SDR_avg"] = _num(np.nanmean([v for v in out.values() if v is not None])) if any(out.values()) else None
    out["n"] = len(df)
    write_json(metrics, out)


RECIPE = Recipe(
    name="sfi",
    title="SFI Conv-TasNet (Saito et al. 2022): MUSDB18-HQ at unseen sampling rates vs resampling",
    stages={"resample": resample_split, "train": train, "evaluate": evaluate, "summarize": summarize},
    factors={"method": "sfi (SFI Conv-TasNet at the input rate), resampling (plain Conv-TasNet on the "
                       "signal resampled to the training rate), plain (plain Conv-TasNet at the input rate)",
             "sampling_rate": "evaluation sampling rate (Hz)"},
    levels={"method": ("sfi", "resampling", "plain")},
    table=TableSpec(metrics=("SDR_vocals", "SDR_drums", "SDR_bass", "SDR_other", "SDR_avg"),
                    x="sampling_rate", hue="method"),
    corpora=("musdb18hq",),
)
