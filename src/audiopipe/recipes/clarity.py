"""ICASSP 2023 Clarity Challenge recipe: Conv-TasNet enhancement, NAL-R + compressor, HASPI/HASQI.

Stages (each one a rule of ``workflow/rules/clarity.smk``; the corpus manifests come from the
generic corpus rule, the plan tables from the generic table rule)::

    cache     training crops at the training rate (16 kHz) -> HDF5 shards
    train     Conv-TasNet, uPIT over negative SI-SDR (Lightning) -> model.pt
    enhance   CH1 pair of each dev scene -> enhanced stereo at 44.1 kHz
    evaluate  per listener: NAL-R + compressor + soft clip, better-ear HASPI v2 and HASQI v2
    summarize per-system scores.csv (one row per scene-listener pair) and metrics.json

The passthrough system (front-microphone CH1 mixture, hearing-aid amplification only) is the
baseline every table shows beside the Conv-TasNet settings.

The evaluation follows the official ICASSP 2023 baseline (pyclarity
``recipes/icassp_2023/baseline/evaluate.py``): the reference is the anechoic target scaled to the
reverberant target's RMS per ear, NAL-R (``nfir`` 220) and the compressor (threshold 0.35,
attenuation 0.1, attack 50 ms, release 1000 ms, RMS buffer 0.064 s) amplify each ear, ``tanh``
soft-clips, and numpy's global seed is set from the md5 of the scene id before each
scene-listener pair so HASPI/HASQI's internal noise is reproducible. One difference: audio is
read with soundfile (which scales int16 and float WAVs alike) instead of ``wavfile / 32768``,
which is only right for int16 files.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

from audiopipe.io import atomic_path, read_audio, read_jsonl, stable_seed, write_audio, write_json
from audiopipe.pipeline.registry import Recipe, TableSpec

log = logging.getLogger(__name__)

FS = 44100
METRICS = ("haspi", "hasqi", "combined")


def _resample(x: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    """Polyphase resampling (scipy ``resample_poly``) along the last axis."""
    import scipy.signal

    if fs_in == fs_out:
        return x
    g = np.gcd(fs_in, fs_out)
    return scipy.signal.resample_poly(x, fs_out // g, fs_in // g, axis=-1)


def _chunk(records: list[dict], index: int, n_chunks: int) -> list[dict]:
    if not 0 <= index < n_chunks:
        raise ValueError(f"chunk index {index} out of range for {n_chunks} chunks")
    return records[index::n_chunks]


def cache(manifest: Path, output: Path, shard: int, n_shards: int, sampling_rate: int = 16000,
          crop_s: float = 3.0, crops_per_scene: int = 6, target: str = "reverberant",
          val_fraction: float = 0.15, seed: int = 0) -> None:
    """Cut random training crops from a shard of scenes, resampled, into one HDF5 file.

    Datasets: ``mixture`` ``(n, 2, samples)``, ``sources`` ``(n, 2, 2, samples)`` (target,
    interferer), ``scene`` ``(n,)``, ``is_val`` ``(n,)`` (crops of the validation scenes: the
    ``val_fraction`` of the split's scenes with the lowest stable hash of their id, at least one). Contiguous float32, no compression.

    Parameters
    ----------
    manifest : Path
        Train-split manifest from ``prepare``.
    output : Path
        Shard file (``.h5``).
    shard : int
        Index of this shard: it takes scenes ``shard::n_shards``.
    n_shards : int
        Number of shards of the split.
    sampling_rate : int
        Training rate (Hz); 16 kHz by default, the rate the scenes are resampled to.
    crop_s : float
        Crop length (s); shorter scenes are zero-padded.
    crops_per_scene : int
        Crops drawn per scene, uniformly over the scene.
    target : str
        ``reverberant`` (``target_CH1``; the sources then sum to the mixture) or ``anechoic``
        (``target_anechoic_CH1``, rescaled to the reverberant target's RMS; the interferer is then
        ``mix - target``).
    val_fraction : float
        Fraction of scenes held out for validation.
    seed : int
        Crop positions derive from (seed, shard).

    Raises
    ------
    KeyError
        If a scene lacks the CH1 role a source needs.
    """
    import h5py
    from tqdm import tqdm

    if target not in ("reverberant", "anechoic"):
        raise ValueError(f"target must be 'reverberant' or 'anechoic', got {target!r}")
    all_records = read_jsonl(manifest)
    # validation scenes: the lowest stable hashes of the whole split (at least one), so every
    # shard agrees on them and the choice does not depend on the sharding
    ranked = sorted(r["id"] for r in all_records)
    ranked.sort(key=lambda sid: stable_seed("clarity-val", sid))
    val_ids = set(ranked[: max(1, int(round(val_fraction * len(ranked))))])
    records = _chunk(all_records, shard, n_shards)
    rng = np.random.default_rng(stable_seed("clarity-cache", seed, shard, n_shards))
    n = int(round(crop_s * sampling_rate))
    mixes, srcs, names, is_val = [], [], [], []
    for r in tqdm(records, desc=f"cache shard {shard}", unit="scene"):
        sig = r["signals"]
        for role in ("mix", "target"):
            if "CH1" not in sig.get(role, {}):
                raise KeyError(f"scene {r['id']} in {manifest}: no {role}_CH1 file")
        mix, fs = read_audio(sig["mix"]["CH1"])
        tgt, _ = read_audio(sig["target"]["CH1"])
        if target == "anechoic":
            ane, _ = read_audio(sig["target_anechoic"]["CH1"])
            m = min(ane.shape[1], tgt.shape[1])
            ane = ane[:, :m] * (np.sqrt((tgt[:, :m] ** 2).mean(1, keepdims=True)) /
                                (np.sqrt((ane[:, :m] ** 2).mean(1, keepdims=True)) + 1e-12))
            tgt = ane
        m = min(mix.shape[1], tgt.shape[1])
        mix, tgt = mix[:, :m], tgt[:, :m]
        if "interferer" in sig and "CH1" in sig["interferer"] and target == "reverberant":
            inter, _ = read_audio(sig["interferer"]["CH1"])
            inter = inter[:, :m]
        else:
            inter = mix - tgt
        stack = _resample(np.stack([mix, tgt, inter]), fs, sampling_rate).astype(np.float32)
        if stack.shape[-1] < n:
            stack = np.pad(stack, ((0, 0), (0, 0), (0, n - stack.shape[-1])))
        val = r["id"] in val_ids
        for _ in range(crops_per_scene):
            a = int(rng.integers(0, stack.shape[-1] - n + 1))
            c = stack[..., a : a + n]
            mixes.append(c[0])
            srcs.append(c[1:])
            names.append(r["id"])
            is_val.append(val)
    with atomic_path(output) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("mixture", data=np.stack(mixes))
            f.create_dataset("sources", data=np.stack(srcs))
            f.create_dataset("scene", data=np.array(names, dtype=h5py.string_dtype()))
            f.create_dataset("is_val", data=np.array(is_val))
            f.attrs.update(sampling_rate=sampling_rate, seed=seed, shard=shard, n_shards=n_shards, target=target)


def train(shards: list[Path], output: Path, model: dict, train: dict) -> None:
    """Train Conv-TasNet on cached crops; write ``model.pt`` (weights, config, target slot, rate).

    Checkpoints go to ``<output dir>/checkpoints`` every epoch; a rerun resumes from ``last.ckpt``.
    The rule passes ``model`` and ``train`` with the plan setting's factors already applied.

    Parameters
    ----------
    shards : list of Path
        HDF5 crop shards from ``cache`` (all at one sampling rate, recorded in the model).
    output : Path
        Final model file (``model.pt``), written atomically after training.
    model : dict
        Conv-TasNet sizes: ``N, L, B, H, P, X, R, norm, causal``.
    train : dict
        ``lr, batch_size, max_epochs, seed, num_workers``.

    Raises
    ------
    ValueError
        If the shards were cached at different sampling rates.
    """
    import h5py
    import torch

    from audiopipe.training.clarity import train_separator

    rates = set()
    for s in shards:
        with h5py.File(s, "r") as f:
            rates.add(int(f.attrs["sampling_rate"]))
    if len(rates) != 1:
        raise ValueError(f"shards {list(map(str, shards))} hold crops at several sampling rates {sorted(rates)}")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    work = Path(output).parent
    t0 = time.time()
    from audiopipe.pipeline.provenance import run_fingerprint

    fingerprint = run_fingerprint(RECIPE.stages["train"], {"model": model, "train": train}, shards)
    module, fitted = train_separator(shards, work, model, lr=float(train["lr"]), batch_size=int(train["batch_size"]),
                                     max_epochs=int(train["max_epochs"]), seed=int(train["seed"]),
                                     num_workers=int(train.get("num_workers", 0)), fingerprint=fingerprint)
    counts = module.slot_counts.tolist()
    slot = int(np.argmax(counts)) if sum(counts) else 0
    with atomic_path(output) as tmp:
        torch.save({"state_dict": module.net.state_dict(), "model": model, "train": train,
                    "target_slot": slot, "slot_counts": counts, "sampling_rate": rates.pop(),
                    "resumed": fitted.resumed}, tmp)
    write_json(work / "train_timing.json", {"seconds": round(time.time() - t0, 3)})
    log.info("trained in %.1f s; target is output slot %d (validation counts %s)", time.time() - t0, slot, counts)


def load_separator(path: Path):
    """Load ``model.pt`` into a ConvTasNet in eval mode; returns ``(net, checkpoint dict)``."""
    import torch

    from audiopipe.models.conv_tasnet import ConvTasNet

    ck = torch.load(path, map_location="cpu", weights_only=False)
    net = ConvTasNet(n_src=2, in_channels=2, out_channels=2, **ck["model"])
    net.load_state_dict(ck["state_dict"])
    return net.eval(), ck


def enhance_scene(net, ck: dict, mix: np.ndarray, fs: int) -> np.ndarray:
    """Enhance one ``(2, samples)`` mixture at ``fs``; returns ``(2, samples)`` at ``fs``.

    The network runs at its training rate; the target output slot is the one PIT assigned the
    target most often on validation crops. SI-SDR training leaves the output gain free, so each
    channel is rescaled by its least-squares projection onto the mixture channel (the gain at
    which the estimate best explains the mixture), keeping the level that NAL-R and the
    compressor see realistic.
    """
    import torch

    x = _resample(mix, fs, ck["sampling_rate"]).astype(np.float32)
    with torch.inference_mode():
        y = net(torch.from_numpy(x)[None])[0, ck["target_slot"]].numpy()
    y = _resample(y, ck["sampling_rate"], fs)[:, : mix.shape[1]]
    if y.shape[1] < mix.shape[1]:
        y = np.pad(y, ((0, 0), (0, mix.shape[1] - y.shape[1])))
    gain = (y * mix).sum(1, keepdims=True) / ((y * y).sum(1, keepdims=True) + 1e-12)
    return (y * gain).astype(np.float32)


def enhance(manifest: Path, model: Path, output_dir: Path, chunk: int = 0, n_chunks: int = 1) -> None:
    """Enhance the CH1 pair of every scene of one chunk with a trained separator.

    Writes ``<output_dir>/<scene>_enhanced.wav`` (44.1 kHz, 2 channels, float) for each scene and
    ``<output_dir>/index.json`` last.

    Parameters
    ----------
    manifest : Path
        Evaluation-split manifest.
    model : Path
        ``model.pt`` from ``train``.
    output_dir : Path
        Folder for this chunk's enhanced signals.
    chunk : int
        Index of this job's chunk: it enhances scenes ``chunk::n_chunks``.
    n_chunks : int
        Number of chunks of the split.
    """
    from tqdm import tqdm

    net, ck = load_separator(model)
    records = _chunk(read_jsonl(manifest), chunk, n_chunks)
    out = {}
    for r in tqdm(records, desc=f"enhance chunk {chunk}", unit="scene"):
        mix, fs = read_audio(r["signals"]["mix"]["CH1"], sampling_rate=FS, num_channels=2)
        path = Path(output_dir) / f"{r['id']}_enhanced.wav"
        write_audio(path, enhance_scene(net, ck, mix, fs), fs)
        out[r["id"]] = path.name
    write_json(Path(output_dir) / "index.json", {"model": str(model), "scenes": out})


def set_scene_seed(scene: str) -> None:
    """Seed numpy's global generator from the scene id, as the official ICASSP 2023 evaluate.py."""
    np.random.seed(int(hashlib.md5(scene.encode("utf-8")).hexdigest(), 16) % (10**8))


def nalr_filter(audiogram, nalr: dict) -> np.ndarray:
    """NAL-R FIR filter of one ear (pyclarity ``NALR(**nalr).build``), ``(nfir + 1,)`` taps.

    Parameters
    ----------
    audiogram : clarity.utils.audiogram.Audiogram
        Hearing thresholds (dB HL) at their frequencies (Hz).
    nalr : dict
        ``nfir`` (filter order) and ``sampling_rate`` (Hz; pyclarity's ``sample_rate``).
    """
    from clarity.enhancer.nalr import NALR

    fir, _ = NALR(**_pyclarity_nalr(nalr)).build(audiogram)
    return fir


def _pyclarity_nalr(nalr: dict) -> dict:
    """audiopipe's NAL-R parameters as pyclarity's ``NALR`` keyword arguments."""
    out = {k: v for k, v in nalr.items() if k != "sampling_rate"}
    out["sample_rate"] = nalr.get("sampling_rate", FS)
    return out


def amplify(signal: np.ndarray, listener, nalr: dict, compressor: dict, soft_clip: bool = True) -> np.ndarray:
    """Hearing-aid amplification per ear: NAL-R fitting, then the compressor, then ``tanh``.

    Parameters
    ----------
    signal : np.ndarray
        ``(2, samples)`` left/right at ``nalr["sampling_rate"]``.
    listener : clarity.utils.audiogram.Listener
        The listener's audiograms (left, right).
    nalr : dict
        NAL-R parameters: ``nfir``, ``sampling_rate`` (Hz).
    compressor : dict
        Keyword arguments of pyclarity's ``Compressor``.
    soft_clip : bool
        ``tanh`` after the compressor.

    Returns
    -------
    np.ndarray
        ``(2, samples)``.
    """
    from clarity.enhancer.compressor import Compressor
    from clarity.enhancer.nalr import NALR

    enhancer, comp = NALR(**_pyclarity_nalr(nalr)), Compressor(**compressor)
    out = []
    for x, audiogram in zip(signal, (listener.audiogram_left, listener.audiogram_right)):
        y = enhancer.apply(nalr_filter(audiogram, nalr), x)
        y, _, _ = comp.process(y)
        out.append(y)
    amplified = np.stack(out)
    return np.tanh(amplified) if soft_clip else amplified


def evaluate(manifest: Path, system: str, output: Path, listeners: Path, enhanced_dir: Path | None = None,
             chunk: int = 0, n_chunks: int = 1, nalr: dict | None = None, compressor: dict | None = None,
             soft_clip: bool = True, set_random_seed: bool = True) -> None:
    """Score one chunk of scenes for every paired listener with better-ear HASPI v2 and HASQI v2.

    Writes a CSV with columns ``scene, listener, system, haspi, hasqi, combined`` (``combined`` =
    mean of HASPI and HASQI, as the challenge ranks) and, beside it, ``<output stem>.timing.json``
    (the time of the two metric calls per pair, s).

    Parameters
    ----------
    manifest : Path
        Evaluation-split manifest.
    system : str
        Name written in the ``system`` column (``baseline`` reads the CH1 mixture: front-microphone
        passthrough).
    output : Path
        Chunk CSV.
    listeners : Path
        ``listeners.json`` with the audiograms.
    enhanced_dir : Path, optional
        Enhanced signals from ``enhance`` (omit for the passthrough baseline).
    chunk : int
        Index of this job's chunk: it scores scenes ``chunk::n_chunks``.
    n_chunks : int
        Number of chunks of the split.
    nalr : dict
        NAL-R parameters: ``nfir``, ``sampling_rate`` (Hz).
    compressor : dict
        Parameters of pyclarity's ``Compressor``.
    soft_clip : bool
        ``tanh`` after the compressor.
    set_random_seed : bool
        Seed from the md5 of the scene id before each pair (official recipe).

    Raises
    ------
    AudioFileError
        If an enhanced or reference file is missing or has the wrong format.
    """
    import pandas as pd
    from clarity.evaluator.haspi import haspi_v2_be
    from clarity.evaluator.hasqi import hasqi_v2_better_ear
    from clarity.utils.audiogram import Listener
    from tqdm import tqdm

    nalr = nalr or {"nfir": 220, "sampling_rate": FS}
    compressor = compressor or {"threshold": 0.35, "attenuation": 0.1, "attack": 50, "release": 1000,
                                "rms_buffer_size": 0.064}
    listener_dict = Listener.load_listener_dict(listeners)
    records = _chunk(read_jsonl(manifest), chunk, n_chunks)
    rows, seconds = [], []
    for r in tqdm(records, desc=f"evaluate {system} chunk {chunk}", unit="scene"):
        sid = r["id"]
        if enhanced_dir is None:
            signal, fs = read_audio(r["signals"]["mix"]["CH1"], sampling_rate=FS, num_channels=2)
        else:
            signal, fs = read_audio(Path(enhanced_dir) / f"{sid}_enhanced.wav", sampling_rate=FS, num_channels=2)
        ane, _ = read_audio(r["signals"]["target_anechoic"]["CH1"], sampling_rate=FS, num_channels=2)
        tgt, _ = read_audio(r["signals"]["target"]["CH1"], sampling_rate=FS, num_channels=2)
        n = min(signal.shape[1], ane.shape[1], tgt.shape[1])
        if len({signal.shape[1], ane.shape[1], tgt.shape[1]}) > 1:
            log.warning("scene %s: signal lengths differ (%d, %d, %d); cropping to %d",
                        sid, signal.shape[1], ane.shape[1], tgt.shape[1], n)
        signal, ane, tgt = signal[:, :n].astype(np.float64), ane[:, :n].astype(np.float64), tgt[:, :n].astype(np.float64)
        ref = ane * np.sqrt((tgt**2).mean(1, keepdims=True)) / np.sqrt((ane**2).mean(1, keepdims=True))
        for lid in r["listeners"]:
            if set_random_seed:
                set_scene_seed(sid)
            listener = listener_dict[lid]
            amp = amplify(signal, listener, nalr, compressor, soft_clip)
            t0 = time.time()
            haspi = haspi_v2_be(ref[0], ref[1], amp[0], amp[1], fs, listener)
            hasqi = hasqi_v2_better_ear(ref[0], ref[1], amp[0], amp[1], fs, listener)
            rows.append({"scene": sid, "listener": lid, "system": system, "haspi": float(haspi),
                         "hasqi": float(hasqi), "combined": 0.5 * (float(haspi) + float(hasqi))})
            seconds.append(time.time() - t0)
    with atomic_path(output) as tmp:
        pd.DataFrame(rows, columns=["scene", "listener", "system", *METRICS]).to_csv(tmp, index=False)
    write_json(Path(output).with_suffix(".timing.json"), {"seconds_per_pair": seconds})


def summarize(chunks: list[Path], scores: Path, metrics: Path, timing: Path) -> None:
    """Merge the chunk CSVs of one system into ``scores.csv``, ``metrics.json`` and ``timing.json``.

    Parameters
    ----------
    chunks : list of Path
        Chunk CSVs from ``evaluate``.
    scores : Path
        One row per scene-listener pair: ``scene, listener, system, haspi, hasqi, combined``.
    metrics : Path
        Per metric the mean and the standard deviation over pairs (population), and ``n`` pairs.
    timing : Path
        Mean and total time of the metric calls per pair (s): kept out of the results, so that
        they are the same bytes on every run.
    """
    import json

    import pandas as pd

    df = pd.concat([pd.read_csv(c) for c in chunks], ignore_index=True).sort_values(["scene", "listener"])
    with atomic_path(scores) as tmp:
        df.to_csv(tmp, index=False)
    summary = {m: float(df[m].mean()) for m in METRICS}
    summary.update({f"{m}_std": float(df[m].std(ddof=0)) for m in METRICS})
    summary.update(n=int(len(df)))
    write_json(metrics, summary)
    seconds = [s for c in chunks for s in json.loads(Path(c).with_suffix(".timing.json").read_text())["seconds_per_pair"]]
    write_json(timing, {"seconds_per_pair": float(np.mean(seconds)) if seconds else None, "seconds": float(np.sum(seconds))})


RECIPE = Recipe(
    name="clarity",
    title="ICASSP 2023 Clarity: Conv-TasNet + uPIT, NAL-R + compressor, better-ear HASPI/HASQI",
    stages={"cache": cache, "train": train, "enhance": enhance, "evaluate": evaluate, "summarize": summarize},
    overrides=("model", "train"),
    table=TableSpec(metrics=METRICS),
    corpora=("clarity",),
    baselines=lambda section: {"passthrough": "baseline"},
)
