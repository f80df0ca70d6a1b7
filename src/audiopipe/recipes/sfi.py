"""SFI recipe: sampling-frequency-independent Conv-TasNet on MUSDB18-HQ, evaluated at unseen rates.

Reproduces the comparison of Saito et al. (TASLP 2022): a Conv-TasNet whose encoder and
decoder are SFI layers, trained at 32 kHz, separates music at 8, 16, 32 and 48 kHz; it is compared
with a plain Conv-TasNet trained at 32 kHz, applied either to the signal resampled to 32 kHz
("resampling") or directly at the input rate ("plain"). Score: BSSEval v4 SDR (museval), median
over 1-s frames, median over tracks, per source.

Stages: ``demo`` → ``prepare`` → ``resample`` (per split and rate) → ``train`` (sfi, plain) →
``evaluate`` (one job per track × rate × method) → ``aggregate`` (per setting) → ``table``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from audiopipe.corpora.musdb import (SOURCES, build_demo_musdb, prepare_musdb, read_shard_track,
                                     resample, resample_tracks)
from audiopipe.io import atomic_path, read_jsonl, write_json
from audiopipe.metrics.bss import track_sdr
from audiopipe.models.sfi_convtasnet import build_model

log = logging.getLogger(__name__)

METHODS = ("sfi", "resampling", "plain")


def demo(source: Path, output: Path, segment_seconds: float = 1.1, splits: dict | None = None) -> None:
    """Build the demo MUSDB18-HQ-layout corpus by cutting a real track into short tracks.

    Parameters
    ----------
    source : Path
        Real track folder (``mixture.wav`` + 4 stems), e.g. the shared fixture
        ``music/musdb18hq_sample/train/Music Delta - 80s Rock``.
    output : Path
        Demo corpus root; gets ``train/``, ``test/``, ``demo_manifest.jsonl`` (provenance) and
        ``valid_tracks.txt`` (the demo's validation split, one track name per line).
    segment_seconds : float
        Duration of each demo track (s).
    splits : dict
        Segments per split, e.g. ``{"train": 3, "valid": 1, "test": 2}``.
    """
    man = build_demo_musdb(source, output, segment_seconds, splits)
    valid = [r["track"] for r in read_jsonl(man) if r["split"] == "valid"]
    with atomic_path(Path(output) / "valid_tracks.txt") as tmp:
        tmp.write_text("".join(v + "\n" for v in valid))


def prepare(root: Path, output_dir: Path, valid_list: Path | None = None) -> None:
    """Write MUSDB18-HQ manifests ``musdb_{train,valid,test}.jsonl``.

    Parameters
    ----------
    root : Path
        Corpus root with ``train/`` and ``test/``.
    output_dir : Path
        Manifest folder.
    valid_list : Path, optional
        Text file of validation track names (one per line); default: the official MUSDB18 list.
    """
    valid = None
    if valid_list is not None:
        valid = [ln.strip() for ln in Path(valid_list).read_text().splitlines() if ln.strip()]
    prepare_musdb(root, output_dir, valid)


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
        segment_seconds, batch_size, epochs, steps_per_epoch, valid_segments, lr,
        weight_decay, grad_clip, seed.
    """
    from audiopipe.training.sfi import train_separator

    if Path(output).name != "model.pt":
        raise ValueError(f"output must be named model.pt, got {output}")
    train_separator(train_shard, valid_shard, Path(output).parent, kind, model_config(kind, model),
                    **training)


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


@torch.no_grad()
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
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: expected one of {METHODS}")
    run_fs = train_fs if method == "resampling" else fs
    x = resample(mixture, fs, run_fs) if method == "resampling" else mixture.astype(np.float32)
    n = x.shape[-1]
    step = n if chunk_seconds <= 0 else max(1, int(round(chunk_seconds * run_fs)))
    parts = []
    for a in range(0, n, step):
        seg = torch.from_numpy(np.ascontiguousarray(x[None, :, a:a + step]))
        parts.append(net(seg, run_fs)[0].numpy())
    y = np.concatenate(parts, axis=-1)
    if method == "resampling":
        y = resample(y, run_fs, fs)
        m = mixture.shape[-1]
        y = y[..., :m] if y.shape[-1] >= m else np.pad(y, ((0, 0), (0, 0), (0, m - y.shape[-1])))
    return y


def evaluate(model: Path, shard: Path, track: str, method: str, output: Path,
             chunk_seconds: float = 0.0, save_estimates: Path | None = None) -> None:
    """Separate one test track at one rate with one method and score it (BSSEval v4 SDR).

    Parameters
    ----------
    model : Path
        ``model.pt`` (SFI model for method ``sfi``, plain model for ``resampling``/``plain``).
    shard : Path
        Test shard at the evaluation rate (from ``resample``).
    track : str
        Track id in the shard.
    method : str
        ``sfi``, ``resampling`` or ``plain``.
    output : Path
        JSON with per-source SDR (median over 1-s frames), the framewise SDRs and timings (s).
    chunk_seconds : float
        Inference chunk length (s); 0 = whole track.
    save_estimates : Path, optional
        Also write the estimates as HDF5 (``estimates (4, channels, samples)``).
    """
    torch.set_num_threads(1)
    net, train_fs = load_separator(model)
    if method == "sfi" and not hasattr(net, "encoder") or method != "sfi" and hasattr(net, "encoder"):
        raise ValueError(f"{model}: a {type(net).__name__} cannot be evaluated with method {method!r}")
    mix, refs, fs = read_shard_track(shard, track)
    t0 = time.perf_counter()
    est = separate(net, mix, fs, method, train_fs, chunk_seconds)
    t1 = time.perf_counter()
    med, frames = track_sdr(refs, est, fs)
    t2 = time.perf_counter()
    if save_estimates is not None:
        import h5py

        with atomic_path(save_estimates) as tmp, h5py.File(tmp, "w") as h5:
            h5.create_dataset("estimates", data=est.astype(np.float32))
            h5.attrs["sampling_rate"] = fs
    write_json(output, {
        "track": track, "method": method, "sampling_rate": fs, "train_sampling_rate": train_fs,
        "duration": mix.shape[-1] / fs,
        "SDR": {s: _num(v) for s, v in zip(SOURCES, med)},
        "SDR_frames": {s: [_num(v) for v in f] for s, f in zip(SOURCES, frames)},
        "seconds_separation": t1 - t0, "seconds_bss_eval": t2 - t1,
    })


def load_separator(path: Path):
    """Load a ``model.pt`` written by :func:`train_separator`: (model in eval mode, training rate)."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    model = build_model(blob["kind"], blob["config"])
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, int(blob["sampling_rate"])


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def aggregate(inputs: list[Path], output: Path, plan: str, setting: str, values: dict) -> None:
    """Aggregate one setting's per-track results: median over tracks per source (SiSEC), plus
    mean ± std.

    Parameters
    ----------
    inputs : list of Path
        Per-track JSON files from ``evaluate``.
    output : Path
        ``metrics.json`` of the setting.
    plan : str
        Plan name.
    setting : str
        Setting identifier.
    values : dict
        The setting's factor levels.
    """
    rows = [json.loads(Path(p).read_text()) for p in inputs]
    if not rows:
        raise ValueError(f"{output}: no per-track results to aggregate")
    out = {"plan": plan, "setting": setting, **values, "n_tracks": len(rows), "SDR": {},
           "SDR_mean": {}, "SDR_std": {}}
    for s in SOURCES:
        v = np.array([r["SDR"][s] if r["SDR"][s] is not None else np.nan for r in rows], dtype=float)
        ok = v[np.isfinite(v)]
        out["SDR"][s] = float(np.median(ok)) if ok.size else None
        out["SDR_mean"][s] = float(ok.mean()) if ok.size else None
        out["SDR_std"][s] = float(ok.std()) if ok.size else None
    dur = sum(r["duration"] for r in rows)
    out["audio_seconds"] = dur
    out["seconds_separation_per_track_second"] = sum(r["seconds_separation"] for r in rows) / dur
    out["seconds_bss_eval_per_track_second"] = sum(r["seconds_bss_eval"] for r in rows) / dur
    write_json(output, out)


def table(inputs: list[Path], output_dir: Path) -> None:
    """SDR-vs-rate table (CSV, Markdown) and plot (PNG): one panel per source, one line per method.

    Parameters
    ----------
    inputs : list of Path
        ``metrics.json`` files from ``aggregate``.
    output_dir : Path
        Gets ``sdr_table.csv``, ``sdr_table.md`` and ``sdr_vs_rate.png``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    recs = []
    for p in inputs:
        m = json.loads(Path(p).read_text())
        for s in SOURCES:
            recs.append({"method": m["method"], "sampling_rate": int(m["sampling_rate"]), "source": s,
                         "SDR_median": m["SDR"][s], "SDR_mean": m["SDR_mean"][s],
                         "SDR_std": m["SDR_std"][s], "n_tracks": m["n_tracks"]})
    df = pd.DataFrame(recs).sort_values(["method", "sampling_rate", "source"])
    output_dir = Path(output_dir)
    with atomic_path(output_dir / "sdr_table.csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.3f")
    wide = df.pivot_table(index=["method", "sampling_rate"], columns="source", values="SDR_median")
    wide = wide.reindex(columns=[s for s in SOURCES if s in wide.columns])
    wide["avg"] = wide.mean(axis=1)
    lines = ["SDR (dB, BSSEval v4: median over 1-s frames, median over tracks)", "",
             "| method | rate (Hz) | " + " | ".join(wide.columns) + " |",
             "|---|---|" + "---|" * len(wide.columns)]
    for (meth, fs), row in wide.iterrows():
        lines.append(f"| {meth} | {fs} | " + " | ".join(f"{v:.2f}" for v in row.values) + " |")
    with atomic_path(output_dir / "sdr_table.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    fig, axes = plt.subplots(1, len(SOURCES), figsize=(3.2 * len(SOURCES), 3.0), sharey=True)
    for ax, s in zip(axes, SOURCES):
        for meth, g in df[df.source == s].groupby("method"):
            ax.plot(g.sampling_rate / 1000, g.SDR_median, marker="o", label=meth)
        ax.set_title(s)
        ax.set_xlabel("sampling rate (kHz)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("SDR (dB)")
    axes[-1].legend()
    fig.tight_layout()
    with atomic_path(output_dir / "sdr_vs_rate.png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


STAGES = {
    "demo": demo,
    "prepare": prepare,
    "resample": resample_split,
    "train": train,
    "evaluate": evaluate,
    "aggregate": aggregate,
    "table": table,
}
