"""Spectral Transcoder (Tailleur et al., DCASE 2023): third-octave -> Mel for pretrained classifiers.

Stages: ``demo`` (demo corpora from the real fixtures) -> ``prepare`` (manifests) -> ``features``
(third-octave + log-Mel clip shard) -> ``teacher`` (pretrained classifier from a user path, or a
small teacher trained on the demo data) -> ``setting`` (train a transcoder of one plan setting and
write its ``metrics.json``) -> ``summarise`` (table and plot of a plan).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from audiopipe.corpora import ami, sonyc_ust, tau_urban, urbansound8k
from audiopipe.features.clips import build_clip_features, load_clip_features
from audiopipe.features.mel import get_config
from audiopipe.io import atomic_path, read_jsonl, stable_seed, write_json
from audiopipe.metrics.classification import accuracy, kl_divergence, macro_auprc, logit_bce, mel_mse, top_class_agreement
from audiopipe.models.classifiers import build_classifier
from audiopipe.models.transcoder import build_transcoder
from audiopipe.training.heads import fit_predict_head
from audiopipe.recipes import _plans
from audiopipe.training.transcoder import (ClassifierModule, TranscoderModule, fit, load_pretrained_classifier,
                                           loader, seed_all)


def demo(fixtures: Path, output_dir: Path) -> None:
    """Build the demo corpora (TAU 2020, UrbanSound8K, AMI layout) from the real fixture recordings.

    Parameters
    ----------
    fixtures : Path
        The shared real-audio fixtures directory (``shared/fixtures``).
    output_dir : Path
        Demo data root; writes ``tau_urban/``, ``urbansound8k/``, ``ami/`` each with a
        ``demo_manifest.jsonl`` recording the source file and offsets of every file.
    """
    output_dir = Path(output_dir)
    tau_urban.build_demo(fixtures, output_dir / "tau_urban")
    urbansound8k.build_demo(fixtures, output_dir / "urbansound8k")
    ami.build_demo(fixtures, output_dir / "ami")


def prepare(tau_root: Path, us8k_root: Path, ami_root: Path, output_dir: Path) -> None:
    """Write the corpus manifests (``tau_urban_{train,evaluate}``, ``urbansound8k``, ``ami_<split>``).

    Parameters
    ----------
    tau_root : Path
        TAU Urban Acoustic Scenes 2020 Mobile root.
    us8k_root : Path
        UrbanSound8K root.
    ami_root : Path
        AMI (pyannote-layout) root.
    output_dir : Path
        Manifest directory.
    """
    tau_urban.prepare_tau_urban(tau_root, output_dir)
    urbansound8k.prepare_urbansound8k(us8k_root, output_dir)
    ami.prepare_ami(ami_root, output_dir)


def features(manifests: list[Path], output: Path, classes: list[str], clip_s: float = 1.0) -> None:
    """Cut the recordings into clips and cache third-octave levels and PANN/YAMNet log-Mel (HDF5).

    Parameters
    ----------
    manifests : list[Path]
        Manifests to include (their ``split`` field is kept; ``evaluate`` is stored as ``test``).
    output : Path
        HDF5 shard to write.
    classes : list[str]
        Label names (columns of ``labels``).
    clip_s : float
        Clip duration in s.
    """
    build_clip_features(list(manifests), output, list(classes), clip_s, split_map={"evaluate": "test", "dev": "test"})


def _load_teacher(teacher_dir: Path) -> tuple[torch.nn.Module, dict]:
    info = json.loads((Path(teacher_dir) / "teacher.json").read_text())
    model = build_classifier(info["classifier"], info["classes"], info["width"])
    model.load_state_dict(torch.load(Path(teacher_dir) / "teacher.pt", map_location="cpu"))
    return model.eval(), info


def teacher(features: Path, classifier: str, output_dir: Path, params: dict) -> None:
    """Provide the classifier the transcoders serve: pretrained weights or a demo-trained teacher.

    Parameters
    ----------
    features : Path
        Clip shard from ``features``.
    classifier : str
        ``PANN`` or ``YamNet``.
    output_dir : Path
        Writes ``teacher.pt`` (state dict) and ``teacher.json`` (how it was obtained).
    params : dict
        ``{weights, classes, width, epochs, lr, batch_size, seed}``: with ``weights`` (a path) the
        pretrained network (``classes`` outputs) is loaded; without, a network of ``width`` is
        trained on the demo clips' true log-Mel and labels, and ``teacher.json`` says so.
    """
    output_dir = Path(output_dir)
    cfg = get_config(classifier)
    if params.get("weights"):
        model = load_pretrained_classifier(classifier, Path(params["weights"]), int(params["classes"]), params["width"])
        info = {"classifier": classifier, "pretrained": True, "weights": str(params["weights"]),
                "classes": int(params["classes"]), "width": params["width"]}
    else:
        data = load_clip_features(features, "train")
        seed = stable_seed("transcoder", "teacher", classifier, params.get("seed", 0))
        seed_all(seed)
        module = ClassifierModule(classifier, len(data["classes"]), params["width"], params["lr"])
        fitted = fit(module, loader(data[f"mel_{cfg.name}"], data["labels"], batch_size=params["batch_size"],
                                    shuffle=True, seed=seed), output_dir / "checkpoints", params["epochs"], seed)
        model = module.classifier.eval()
        info = {"classifier": classifier, "pretrained": False, "weights": None, "classes": len(data["classes"]),
                "width": params["width"], "trained_on": str(features), "label_names": data["classes"],
                "note": "no pretrained weights given: small teacher trained on the demo clips",
                "resumed": fitted.resumed}
    with atomic_path(output_dir / "teacher.pt") as tmp:
        torch.save(model.state_dict(), tmp)
    write_json(output_dir / "teacher.json", info)


def setting(features: Path, teacher_dir: Path, plan: str, setting_id: str, params: dict, output_dir: Path) -> None:
    """Train (CNN) or build (PINV) the transcoder of one plan setting and score it on the test clips.

    Parameters
    ----------
    features : Path
        Clip shard.
    teacher_dir : Path
        Output of ``teacher`` for this setting's classifier.
    plan : str
        Plan name in ``params["plans"]``.
    setting_id : str
        Setting identifier (``factor=value+...`` or ``default``).
    params : dict
        The recipe's configuration section (``plans``, ``cnn``, ``training``).
    output_dir : Path
        Writes ``metrics.json`` (Mel MSE, logit BCE, KL, PTOPAFC, ``n`` clips, ``teacher_pretrained``)
        and, for the CNN, its checkpoints.
    """
    spec = params["plans"][plan]
    s = _plans.parse_setting_id(setting_id, spec["default"])
    cfg = get_config(s["classifier"])
    tr = params["training"]
    seed = stable_seed("transcoder", plan, setting_id, tr.get("seed", 0))
    clf, info = _load_teacher(teacher_dir)
    seed_all(seed)
    module = TranscoderModule(s["transcoder"], s["classifier"], s["target"], params["cnn"], tr["lr"],
                              teacher=clf if s["target"] == "logits" else None)
    output_dir = Path(output_dir)
    if s["transcoder"] == "cnn_pinv":
        train = load_clip_features(features, "train")
        fit(module, loader(train["third_octave"], train[f"mel_{cfg.name}"], batch_size=tr["batch_size"],
                           shuffle=True, seed=seed), output_dir / "checkpoints", tr["epochs"], seed)
    test = load_clip_features(features, "test")
    module.eval()
    with torch.no_grad():
        tho = torch.as_tensor(test["third_octave"])
        true = torch.as_tensor(test[f"mel_{cfg.name}"])
        est = module(tho)
        lt, ls = clf(true), clf(est)
    metrics = {"mel_mse": mel_mse(est, true), "logit_bce": logit_bce(ls, lt), "kl": kl_divergence(ls, lt),
               "ptopafc": top_class_agreement(ls, lt), "n": len(test["id"]),
               "teacher_pretrained": int(bool(info["pretrained"]))}
    write_json(output_dir / "metrics.json", metrics)


DOWNSTREAM_INPUTS = ("mel", "pinv", "cnn")
DOWNSTREAM_DATASETS = ("urbansound8k", "sonyc_ust", "demo_clips")


def prepare_sonyc(root: Path, output_dir: Path) -> None:
    """Write the SONYC-UST manifest ``sonyc_ust.jsonl`` (split and 8 coarse labels per clip).

    Parameters
    ----------
    root : Path
        SONYC-UST v2 root (``annotations.csv``, ``audio/``).
    output_dir : Path
        Manifest directory.
    """
    sonyc_ust.prepare_sonyc_ust(root, output_dir)


def _input_mel(data: dict, inp: str, cfg, cnn: dict, transcoder_ckpt: str) -> torch.Tensor:
    """Log-Mel ``(clips, mels, frames)`` the classifier is fed: true, PINV- or CNN-transcoded."""
    if inp == "mel":
        return torch.as_tensor(data[f"mel_{cfg.name}"])
    if inp == "pinv":
        model = build_transcoder("pinv", cfg)
    elif inp == "cnn":
        if not transcoder_ckpt or not Path(transcoder_ckpt).is_file():
            raise FileNotFoundError(f"input 'cnn' needs the CNN transcoder checkpoint, got {transcoder_ckpt!r}")
        model = build_transcoder("cnn_pinv", cfg, **{k: (tuple(v) if isinstance(v, list) else v) for k, v in cnn.items()})
        state = torch.load(transcoder_ckpt, map_location="cpu", weights_only=False)["state_dict"]
        model.load_state_dict({k[len("transcoder."):]: v for k, v in state.items() if k.startswith("transcoder.")})
    else:
        raise ValueError(f"unknown downstream input {inp!r}; choose one of {DOWNSTREAM_INPUTS}")
    with torch.no_grad():
        return model.eval()(torch.as_tensor(data["third_octave"]))


def _embeddings(clf: torch.nn.Module, mel: torch.Tensor, batch: int = 32) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([clf.embedding(mel[i:i + batch]).double().numpy() for i in range(0, len(mel), batch)])


def _by_recording(ids: list[str], emb: np.ndarray, manifest: Path) -> tuple[list[dict], np.ndarray]:
    """Mean clip embedding per manifest recording (clip ids are ``<recording id>_c<k>``)."""
    recs = {r["id"]: r for r in read_jsonl(manifest)}
    rec_of = np.array([i.rsplit("_c", 1)[0] for i in ids])
    keep = [r for r in recs if (rec_of == r).any()]
    if not keep:
        raise ValueError(f"no clip of the feature shard belongs to a recording of {manifest}")
    return [recs[r] for r in keep], np.stack([emb[rec_of == r].mean(0) for r in keep])


def downstream(features: Path, dataset: str, input: str, teacher_dir: Path, output_dir: Path, params: dict,
               manifest: Path = Path(""), transcoder_ckpt: str = "") -> None:
    """Score a downstream head on the frozen classifier's embeddings of true or transcoded log-Mel.

    Tailleur et al., DCASE 2023, Sec. 4: UrbanSound8K accuracy over the official cross-validation
    folds (``fold`` column of ``metadata/UrbanSound8K.csv``: train on the other folds, test on one)
    and SONYC-UST macro-AUPRC (train on ``split == train``, test on ``split == test``; ``validate``
    is unused by the logistic head, which needs no early stopping). Clip embeddings are averaged
    per recording. ``demo_clips`` scores the whole feature shard with its own train/test split
    (multi-label macro-AUPRC and accuracy on single-label clips): a check of the demo pipeline,
    not a paper number. A fold without training recordings (another fold must exist) is skipped
    and listed with its reason.

    Parameters
    ----------
    features : Path
        Clip shard (``features`` stage) holding the dataset's clips.
    dataset : str
        ``urbansound8k``, ``sonyc_ust`` or ``demo_clips``.
    input : str
        ``mel`` (true log-Mel), ``pinv`` or ``cnn`` (transcoded from the third-octave levels).
    teacher_dir : Path
        Output of ``teacher``: the frozen classifier whose embedding the head reads.
    output_dir : Path
        Writes ``metrics.json``.
    params : dict
        ``{head: {c, max_iter}, cnn: {...}}`` (``cnn``: the CNN transcoder sizes).
    manifest : Path
        Dataset manifest (``urbansound8k.jsonl`` with ``fold``/``class_id``; ``sonyc_ust.jsonl``
        with ``split``/``labels``); unused for ``demo_clips``.
    transcoder_ckpt : str
        Lightning checkpoint of the CNN transcoder (input ``cnn`` only).

    Raises
    ------
    ValueError
        For an unknown dataset or input, or when no fold / split can be scored.
    """
    if dataset not in DOWNSTREAM_DATASETS:
        raise ValueError(f"unknown downstream dataset {dataset!r}; choose one of {DOWNSTREAM_DATASETS}")
    clf, info = _load_teacher(teacher_dir)
    cfg = get_config(info["classifier"])
    data = load_clip_features(features)
    emb = _embeddings(clf, _input_mel(data, input, cfg, params.get("cnn", {}), transcoder_ckpt).float())
    head = params.get("head", {})
    fit = lambda a, y, b, ml: fit_predict_head(a, y, b, ml, c=head.get("c", 1.0), max_iter=head.get("max_iter", 500))
    out = {"dataset": dataset, "input": input, "classifier": info["classifier"],
           "teacher_pretrained": int(bool(info["pretrained"])), "folds": {}, "skipped": {}}
    if dataset == "urbansound8k":
        recs, x = _by_recording(data["id"], emb, manifest)
        fold = np.array([int(r["fold"]) for r in recs])
        y = np.array([int(r["class_id"]) for r in recs])
        out.update(metric="accuracy", n_recordings=len(recs), folds_present=sorted(set(fold.tolist())))
        if len(set(fold.tolist())) < 10:
            out["protocol_note"] = (f"only folds {sorted(set(fold.tolist()))} are present: the official protocol "
                                    "is 10-fold cross-validation; the figures cover the folds present")
        for k in sorted(set(fold.tolist())):
            tr = fold != k
            if not tr.any():
                out["skipped"][str(k)] = "no training recording in the other folds"
                continue
            s = fit(x[tr], y[tr], x[~tr], False)
            out["folds"][str(k)] = accuracy(np.pad(s, ((0, 0), (0, max(0, y.max() + 1 - s.shape[1])))), y[~tr])
    else:
        if dataset == "sonyc_ust":
            recs, x = _by_recording(data["id"], emb, manifest)
            split = np.array([r["split"] for r in recs])
            y = np.array([r["labels"] for r in recs], dtype=float)
        else:
            x, split, y = emb, np.array(data["split"]), data["labels"].astype(float)
            out["protocol_note"] = ("demo_clips: every clip of the feature shard with its train/test split, clip-level;"
                                    " a check of the demo pipeline, not a paper figure")
        out.update(metric="macro_auprc", n_recordings=len(x))
        tr, te = split == "train", split == "test"
        if not tr.any() or not te.any():
            out["skipped"]["test"] = f"split has {int(tr.sum())} train and {int(te.sum())} test recordings"
        else:
            s = fit(x[tr], y[tr], x[te], True)
            out["folds"]["test"] = macro_auprc(s, y[te])
            single = y[te].sum(1) == 1
            if dataset == "demo_clips" and single.any():
                out["accuracy_single_label"] = accuracy(s[single], y[te][single].argmax(1))
    vals = np.array(list(out["folds"].values()), dtype=float)
    out["mean"] = float(vals.mean()) if len(vals) else None
    out["std"] = float(vals.std()) if len(vals) else None
    out["n_folds_scored"] = len(vals)
    if not len(vals):
        out["note"] = "nothing scored: " + "; ".join(f"{k}: {v}" for k, v in out["skipped"].items())
    print(json.dumps(out))
    write_json(Path(output_dir) / "metrics.json", out)


def downstream_table(metrics: list[Path], output_dir: Path) -> None:
    """Collect downstream ``metrics.json`` files into ``table.csv`` and ``table.md`` (mean ± std).

    Parameters
    ----------
    metrics : list[Path]
        ``metrics.json`` files of ``downstream``.
    output_dir : Path
        Writes ``table.csv`` and ``table.md``.
    """
    import pandas as pd

    rows = []
    for m in metrics:
        d = json.loads(Path(m).read_text())
        rows.append({"dataset": d["dataset"], "classifier": d["classifier"], "input": d["input"],
                     "metric": d["metric"], "mean": d["mean"], "std": d["std"], "folds_scored": d["n_folds_scored"],
                     "recordings": d["n_recordings"], "teacher_pretrained": d["teacher_pretrained"],
                     "skipped": "; ".join(f"{k}: {v}" for k, v in d["skipped"].items())})
    df = pd.DataFrame(rows).sort_values(["dataset", "classifier", "input"])
    output_dir = Path(output_dir)
    with atomic_path(output_dir / "table.csv") as tmp:
        df.to_csv(tmp, index=False)
    fmt = df.assign(score=[("n/a" if m is None or m != m else f"{m:.3f} ± {s:.3f}") for m, s in zip(df["mean"], df["std"])])
    lines = ["| dataset | classifier | input | metric | score | folds scored | recordings | pretrained teacher | skipped |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r.dataset} | {r.classifier} | {r.input} | {r.metric} | {r.score} | {r.folds_scored} | {r.recordings}"
              f" | {bool(r.teacher_pretrained)} | {r.skipped} |" for r in fmt.itertuples()]
    with atomic_path(output_dir / "table.md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def summarise(results_dir: Path, plan: str, params: dict) -> None:
    """Collect a plan's ``metrics.json`` files into ``table.csv``, ``table.md`` and ``plot.png``.

    Parameters
    ----------
    results_dir : Path
        ``results/transcoder``; reads ``<plan>/<setting id>/metrics.json``.
    plan : str
        Plan name.
    params : dict
        The recipe's configuration section (for the plan's factors and defaults).
    """
    _plans.write_plan_table(results_dir, plan, params)


STAGES = {"demo": demo, "prepare": prepare, "features": features, "teacher": teacher, "setting": setting,
          "summarise": summarise, "prepare-sonyc": prepare_sonyc, "downstream": downstream,
          "downstream-table": downstream_table}
