"""Learnable STRF front end (Riad et al., JASA 2021): speech activity and urban sound classification.

Stages: ``features`` (log-Mel of the speech-activity recordings with frame labels, and the urban
clip shard) -> ``setting`` (train the network of one plan setting, STRF or plain-conv front end,
and write its ``metrics.json``). The corpora (AMI, TAU Urban Acoustic Scenes 2020 Mobile,
UrbanSound8K) come from the generic corpus rule, the plan table from the generic table rule.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from audiopipe.io import atomic_path, read_audio, read_jsonl, stable_seed, write_json
from audiopipe.pipeline.registry import Recipe, TableSpec


def features(sad_manifests: list[Path], urban_manifests: list[Path], sad_output: Path, urban_output: Path,
             classes: list[str]) -> None:
    """Cache speech-activity log-Mel with frame labels, and the urban clip shard (HDF5).

    Parameters
    ----------
    sad_manifests : list[Path]
        AMI manifests (records with ``speech`` and ``annotated`` regions).
    urban_manifests : list[Path]
        Manifests cut into 1-s labelled clips for the urban task.
    sad_output : Path
        HDF5: one group per recording, ``mel`` ``(64, frames)`` (16 kHz, 10-ms hop) and ``labels``
        ``(frames,)``; attributes ``split``, ``speech``, ``annotated`` (JSON). Labels and
        detections treat frame ``i`` as ``[i, i + 1) x 10 ms``; the centred STFT frame ``i`` is
        centred at ``i x 10 ms``, a constant 5-ms (half-frame) shift, the same for both.
    urban_output : Path
        Clip shard (see :mod:`audiopipe.features.clips`).
    classes : list[str]
        Urban label names.
    """
    import h5py

    from audiopipe.features import mel as melmod
    from audiopipe.features.clips import build_clip_features
    from audiopipe.metrics.detection import regions_to_frames

    cfg = melmod.SAD
    hop_s = cfg.hop / cfg.sampling_rate
    with atomic_path(sad_output) as tmp, h5py.File(tmp, "w") as h5:
        for man in sad_manifests:
            for rec in read_jsonl(man):
                x, sr = read_audio(rec["path"])
                x = melmod.resample(x.mean(0), sr, cfg.sampling_rate)
                m = melmod.log_mel(x, cfg).numpy().astype(np.float32)
                g = h5.create_group(rec["id"])
                g.create_dataset("mel", data=m)
                g.create_dataset("labels", data=regions_to_frames(rec["speech"], m.shape[1], hop_s))
                g.attrs.update(split=rec["split"], speech=json.dumps(rec["speech"]),
                               annotated=json.dumps(rec["annotated"]), hop_s=hop_s)
    build_clip_features(list(urban_manifests), urban_output, list(classes), 1.0,
                        split_map={"evaluate": "test", "dev": "test"})


def _sad_data(path: Path, split: str) -> list[dict]:
    import h5py

    out = []
    with h5py.File(path, "r") as h5:
        for uri in sorted(h5):
            g = h5[uri]
            if g.attrs["split"] == split:
                out.append({"id": uri, "mel": g["mel"][:], "labels": g["labels"][:], "hop_s": float(g.attrs["hop_s"]),
                            "speech": json.loads(g.attrs["speech"]), "annotated": json.loads(g.attrs["annotated"])})
    if not out:
        raise ValueError(f"{path}: no recording in split {split!r}")
    return out


def _chunks(recs: list[dict], n: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for r in recs:
        for k in range(0, r["mel"].shape[1] - n + 1, n // 2):
            xs.append(r["mel"][:, k:k + n])
            ys.append(r["labels"][k:k + n])
    return np.stack(xs), np.stack(ys)


def _norm(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return ((x - mean) / std).astype(np.float32)


def _run_sad(sad: Path, frontend: str, p: dict, seed: int, output_dir: Path, fingerprint: str) -> dict:
    import torch

    from audiopipe.metrics.detection import detection_error_rate, frames_to_regions
    from audiopipe.training.strf import SADModule
    from audiopipe.training.transcoder import fit, loader, seed_all

    train, test = _sad_data(sad, "train"), _sad_data(sad, "test")
    mean = float(np.mean([r["mel"].mean() for r in train]))
    std = float(np.mean([r["mel"].std() for r in train]))
    x, y = _chunks(train, int(round(p["chunk_s"] / train[0]["hop_s"])))
    seed_all(seed)
    module = SADModule(frontend, p["channels"], p["kernel"], p["hidden"], p["grid"], p["lr"], seed)
    fit(module, loader(_norm(x, mean, std), y, batch_size=p["batch_size"], shuffle=True, seed=seed),
        output_dir / "checkpoints", p["epochs"], seed, fingerprint)
    module.eval()
    tot = {"false_alarm": 0.0, "miss": 0.0, "total": 0.0}
    for r in test:
        with torch.no_grad():
            prob = torch.sigmoid(module(torch.as_tensor(_norm(r["mel"], mean, std))[None]))[0].numpy()
        hyp = frames_to_regions(prob > p["threshold"], r["hop_s"])
        d = detection_error_rate(r["speech"], hyp, r["annotated"], uri=r["id"])
        for k in tot:
            tot[k] += d[k]
    return {"der": (tot["false_alarm"] + tot["miss"]) / tot["total"], "false_alarm_s": tot["false_alarm"],
            "miss_s": tot["miss"], "speech_s": tot["total"], "n": len(test)}


def _run_urban(clips: Path, frontend: str, p: dict, seed: int, output_dir: Path, fingerprint: str) -> dict:
    import torch

    from audiopipe.features.clips import load_clip_features
    from audiopipe.metrics.classification import accuracy, macro_auprc
    from audiopipe.training.strf import UrbanModule
    from audiopipe.training.transcoder import fit, loader, seed_all

    train, test = load_clip_features(clips, "train"), load_clip_features(clips, "test")
    mean, std = float(train["mel_PANN"].mean()), float(train["mel_PANN"].std())
    seed_all(seed)
    module = UrbanModule(frontend, len(train["classes"]), p["channels"], p["kernel"], p["width"], p["blocks"],
                         p["grid"], p["lr"], seed)
    fit(module, loader(_norm(train["mel_PANN"], mean, std), train["labels"], batch_size=p["batch_size"],
                       shuffle=True, seed=seed), output_dir / "checkpoints", p["epochs"], seed, fingerprint)
    module.eval()
    with torch.no_grad():
        scores = torch.sigmoid(module(torch.as_tensor(_norm(test["mel_PANN"], mean, std)))).numpy()
    single = test["labels"].sum(1) == 1
    return {"accuracy": accuracy(scores[single], test["labels"][single].argmax(1)) if single.any() else float("nan"),
            "macro_auprc": macro_auprc(scores, test["labels"]), "n": len(test["id"]),
            "n_single_label": int(single.sum())}


def setting(sad: Path, clips: Path, plan: str, setting: str, levels: dict, params: dict, output_dir: Path) -> None:
    """Train and score the network of one plan setting (front end x task).

    Parameters
    ----------
    sad : Path
        Speech-activity HDF5 from ``features``.
    clips : Path
        Urban clip shard from ``features``.
    plan : str
        Plan name (seeds the training with the setting identifier).
    setting : str
        Setting identifier (``factor=value+...`` or ``default``).
    levels : dict
        The setting's factor levels: ``frontend`` (strf, conv) and ``task`` (sad, urban).
    params : dict
        The recipe's configuration section (``frontend``, ``sad``, ``urban``, ``seed``).
    output_dir : Path
        Writes ``metrics.json``: ``der`` (task ``sad``) or ``accuracy`` and ``macro_auprc``
        (task ``urban``), with ``n`` test items; ``details.json`` (DER components, item counts);
        and checkpoints.

    Raises
    ------
    ValueError
        For an unknown task.
    """
    from audiopipe.pipeline.provenance import run_fingerprint

    output_dir = Path(output_dir)
    seed = stable_seed("strf", plan, setting, params.get("seed", 0))
    fingerprint = run_fingerprint(RECIPE.stages["setting"], {"levels": levels, "params": params, "seed": seed},
                                  [sad, clips])
    if levels["task"] == "sad":
        res = _run_sad(sad, levels["frontend"], {**params["frontend"], **params["sad"]}, seed, output_dir, fingerprint)
        metrics = {"der": res["der"], "n": res["n"]}
    elif levels["task"] == "urban":
        res = _run_urban(clips, levels["frontend"], {**params["frontend"], **params["urban"]}, seed, output_dir,
                         fingerprint)
        metrics = {"accuracy": res["accuracy"], "macro_auprc": res["macro_auprc"], "n": res["n"]}
    else:
        raise ValueError(f"unknown task {levels['task']!r}; choose 'sad' or 'urban'")
    write_json(output_dir / "metrics.json", metrics)
    write_json(output_dir / "details.json", {**levels, **res})


RECIPE = Recipe(
    name="strf",
    title="Learnable STRF front end (Riad et al. 2021): speech activity (DER), urban sound",
    stages={"features": features, "setting": setting},
    factors={"frontend": "strf (learnable Gabor STRFConv2d) or conv (plain Conv2d of the same size)",
             "task": "sad (speech activity detection, DER) or urban (urban sound classification)"},
    levels={"frontend": ("strf", "conv"), "task": ("sad", "urban")},
    table=TableSpec(x=None, panel="task"),
    corpora=("ami", "tau_urban", "urbansound8k"),
)
