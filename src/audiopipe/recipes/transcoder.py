"""Spectral Transcoder (Tailleur et al., DCASE 2023): third-octave -> Mel for pretrained classifiers.

Stages: ``features`` (third-octave + log-Mel clip shard from the corpus manifests) -> ``teacher``
(pretrained classifier from a user path, or a small teacher trained on the demo data) ->
``setting`` (train a transcoder of one setting of the ``paper`` plan and score it) and
``downstream`` (one setting of the ``downstream`` plan: a head on the frozen classifier's
embeddings of true or transcoded log-Mel). The corpora (TAU Urban Acoustic Scenes 2020 Mobile,
UrbanSound8K, AMI, SONYC-UST) come from the generic corpus rule, the tables from the generic table
rule.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from audiopipe.io import atomic_path, read_jsonl, stable_seed, write_json
from audiopipe.pipeline.registry import Recipe, TableSpec

log = logging.getLogger(__name__)


def features(manifests: list[Path], output: Path, classes: list[str], clip_s: float = 1.0,
             resampler: str = "soxr", normalize: str | None = "peak") -> None:
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
    resampler : str
        ``soxr`` (the reference pipeline's librosa default) or ``polyphase``.
    normalize : str or None
        ``peak``: each recording divided by its peak, as the reference pipeline does; None: as read.
    """
    from audiopipe.features.clips import build_clip_features

    build_clip_features(list(manifests), output, list(classes), clip_s, split_map={"evaluate": "test", "dev": "test"},
                        resampler=resampler, normalize=normalize)


def _load_teacher(teacher_dir: Path):
    """The classifier of ``teacher`` (eval mode) and its ``teacher.json``."""
    import torch

    from audiopipe.models.classifiers import build_classifier

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
        ``PANN`` or ``YAMNet``.
    output_dir : Path
        Writes ``teacher.pt`` (state dict) and ``teacher.json`` (how it was obtained).
    params : dict
        ``{weights, classes, width, epochs, lr, batch_size, seed}``: with ``weights`` (a path) the
        pretrained network (``classes`` outputs) is loaded; without, a network of ``width`` is
        trained on the demo clips' true log-Mel and labels, and ``teacher.json`` says so.
    """
    import torch

    from audiopipe.features.clips import load_clip_features
    from audiopipe.features.mel import get_config
    from audiopipe.pipeline.provenance import run_fingerprint
    from audiopipe.training.transcoder import ClassifierModule, fit, load_pretrained_classifier, loader, seed_all

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
        fingerprint = run_fingerprint(teacher, {"classifier": classifier, "params": params}, [features])
        fitted = fit(module, loader(data[f"mel_{cfg.name}"], data["labels"], batch_size=params["batch_size"],
                                    shuffle=True, seed=seed), output_dir / "checkpoints", params["epochs"], seed,
                     fingerprint)
        model = module.classifier.eval()
        info = {"classifier": classifier, "pretrained": False, "weights": None, "classes": len(data["classes"]),
                "width": params["width"], "trained_on": str(features), "label_names": data["classes"],
                "note": "no pretrained weights given: small teacher trained on the demo clips",
                "resumed": fitted.resumed}
    with atomic_path(output_dir / "teacher.pt") as tmp:
        torch.save(model.state_dict(), tmp)
    write_json(output_dir / "teacher.json", info)


def setting(features: Path, teacher_dir: Path, plan: str, setting: str, levels: dict, params: dict,
            output_dir: Path) -> None:
    """Train (CNN) or build (PINV) the transcoder of one ``paper`` setting and score it on the test clips.

    Parameters
    ----------
    features : Path
        Clip shard.
    teacher_dir : Path
        Output of ``teacher`` for this setting's classifier.
    plan : str
        Plan name (seeds the training with the setting identifier).
    setting : str
        Setting identifier (``factor=value+...`` or ``default``).
    levels : dict
        The setting's factor levels: ``transcoder`` (pinv, cnn_pinv), ``classifier`` (PANN,
        YAMNet), ``target`` (mel, logits).
    params : dict
        The recipe's configuration section (``cnn``, ``training``, ``metrics.per``: ``"file"``,
        the default, scores each test recording as the reference's ``compute_metrics`` does: Mel
        MSE and BCE averaged over its 1-s clips, KL and PTOPAFC on its clip-averaged outputs;
        ``"clip"`` scores every clip on its own).
    output_dir : Path
        Writes ``metrics.json`` (Mel MSE, logit BCE, KL, PTOPAFC on the test set, ``n`` recordings
        or clips),
        ``details.json`` (whether the teacher was pretrained) and, for the CNN, its checkpoints.
    """
    import torch

    from audiopipe.features.clips import clip_recordings, load_clip_features
    from audiopipe.features.mel import get_config
    from audiopipe.metrics.classification import kl_divergence, logit_bce, mel_mse, top_class_agreement
    from audiopipe.pipeline.provenance import run_fingerprint
    from audiopipe.training.transcoder import TranscoderModule, fit, loader, seed_all

    per = params.get("metrics", {}).get("per", "file")
    if per not in ("file", "clip"):
        raise ValueError(f"transcoder.metrics.per must be 'file' or 'clip', got {per!r}")
    setting_fn = RECIPE.stages["setting"]
    s = levels
    cfg = get_config(s["classifier"])
    tr = params["training"]
    seed = stable_seed("transcoder", plan, setting, tr.get("seed", 0))
    clf, info = _load_teacher(teacher_dir)
    seed_all(seed)
    module = TranscoderModule(s["transcoder"], s["classifier"], s["target"], params["cnn"], tr["lr"],
                              teacher=clf if s["target"] == "logits" else None)
    output_dir = Path(output_dir)
    if s["transcoder"] == "cnn_pinv":
        train = load_clip_features(features, "train")
        fingerprint = run_fingerprint(setting_fn, {"levels": levels, "params": params},
                                      [features, Path(teacher_dir) / "teacher.pt"])
        fit(module, loader(train["third_octave"], train[f"mel_{cfg.name}"], batch_size=tr["batch_size"],
                           shuffle=True, seed=seed), output_dir / "checkpoints", tr["epochs"], seed, fingerprint)
    test = load_clip_features(features, "test")
    module.eval()
    with torch.no_grad():
        tho = torch.as_tensor(test["third_octave"])
        true = torch.as_tensor(test[f"mel_{cfg.name}"])
        est = module(tho)
        lt, ls = clf(true), clf(est)
    groups = clip_recordings(test["id"]) if per == "file" else None
    write_json(output_dir / "metrics.json", {
        "mel_mse": mel_mse(est, true, groups), "logit_bce": logit_bce(ls, lt, groups),
        "kl": kl_divergence(ls, lt, groups), "ptopafc": top_class_agreement(ls, lt, groups),
        "n": len(set(groups)) if groups else len(test["id"])})
    write_json(output_dir / "details.json", {**levels, "teacher_pretrained": bool(info["pretrained"])})


DOWNSTREAM_INPUTS = ("mel", "pinv", "cnn")
DOWNSTREAM_DATASETS = ("urbansound8k", "sonyc_ust", "demo_clips")


def _input_mel(data: dict, inp: str, cfg, cnn: dict, transcoder_ckpt: str):
    """Log-Mel ``(clips, mels, frames)`` the classifier is fed: true, PINV- or CNN-transcoded."""
    import torch

    from audiopipe.models.transcoder import build_transcoder

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


def _embeddings(clf, mel, batch: int = 32) -> np.ndarray:
    """Embeddings ``(clips, dims)`` of the classifier for log-Mel ``(clips, mels, frames)``."""
    import torch

    with torch.no_grad():
        return np.concatenate([clf.embedding(mel[i:i + batch]).double().numpy() for i in range(0, len(mel), batch)])


def _by_recording(ids: list[str], emb: np.ndarray, manifest: Path) -> tuple[list[dict], np.ndarray]:
    """Mean clip embedding per manifest recording (clip ids are ``<recording id>_c<k>``)."""
    from audiopipe.features.clips import clip_recordings

    recs = {r["id"]: r for r in read_jsonl(manifest)}
    rec_of = np.array(clip_recordings(ids))
    keep = [r for r in recs if (rec_of == r).any()]
    if not keep:
        raise ValueError(f"no clip of the feature shard belongs to a recording of {manifest}")
    return [recs[r] for r in keep], np.stack([emb[rec_of == r].mean(0) for r in keep])


def downstream(features: Path, teacher_dir: Path, levels: dict, output_dir: Path, params: dict,
               manifest: Path | None = None, transcoder_ckpt: str = "") -> None:
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
    teacher_dir : Path
        Output of ``teacher``: the frozen classifier whose embedding the head reads.
    levels : dict
        The setting of the ``downstream`` plan: ``dataset`` (``urbansound8k``, ``sonyc_ust`` or
        ``demo_clips``), ``classifier`` (the teacher's) and ``input`` (``mel``: true log-Mel,
        ``pinv`` or ``cnn``: transcoded from the third-octave levels).
    output_dir : Path
        Writes ``metrics.json`` (``accuracy`` or ``macro_auprc``: mean and std over the folds
        scored, ``n`` folds), ``scores.csv`` (one row per fold) and ``details.json`` (folds
        present and skipped, protocol notes).
    params : dict
        ``{head: {c, max_iter}, cnn: {...}}`` (``cnn``: the CNN transcoder sizes).
    manifest : Path, optional
        Dataset manifest (UrbanSound8K with ``fold``/``class_id``; SONYC-UST with
        ``split``/``labels``); unused for ``demo_clips``.
    transcoder_ckpt : str
        Lightning checkpoint of the CNN transcoder (input ``cnn`` only).

    Raises
    ------
    ValueError
        For an unknown dataset or input, a missing manifest, or a teacher of another classifier.
    """
    import pandas as pd

    from audiopipe.features.clips import load_clip_features
    from audiopipe.features.mel import get_config
    from audiopipe.metrics.classification import accuracy, macro_auprc
    from audiopipe.training.heads import fit_predict_head

    dataset, input = levels["dataset"], levels["input"]
    if dataset not in DOWNSTREAM_DATASETS:
        raise ValueError(f"unknown downstream dataset {dataset!r}; choose one of {DOWNSTREAM_DATASETS}")
    if dataset != "demo_clips" and manifest is None:
        raise ValueError(f"downstream dataset {dataset!r} needs its manifest (--manifest)")
    clf, info = _load_teacher(teacher_dir)
    if info["classifier"] != levels["classifier"]:
        raise ValueError(f"{teacher_dir}: teacher is {info['classifier']}, the setting asks for {levels['classifier']}")
    cfg = get_config(info["classifier"])
    data = load_clip_features(features)
    emb = _embeddings(clf, _input_mel(data, input, cfg, params.get("cnn", {}), transcoder_ckpt).float())
    head = params.get("head", {})

    def fit(a, y, b, ml):
        return fit_predict_head(a, y, b, ml, c=head.get("c", 1.0), max_iter=head.get("max_iter", 500))

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
    metric = out["metric"]
    output_dir = Path(output_dir)
    if not len(vals):  # e.g. a demo UrbanSound8K with one fold: the table shows an empty cell
        out["note"] = "nothing scored: " + "; ".join(f"{k}: {v}" for k, v in out["skipped"].items())
        log.warning("downstream %s/%s: %s", dataset, input, out["note"])
    write_json(output_dir / "metrics.json", {metric: float(vals.mean()) if len(vals) else None,
                                             f"{metric}_std": float(vals.std()) if len(vals) else None,
                                             "n": len(vals)})
    with atomic_path(output_dir / "scores.csv") as tmp:
        pd.DataFrame({"fold": list(out["folds"]), metric: vals}).to_csv(tmp, index=False, float_format="%.6g")
    write_json(output_dir / "details.json", out)


def downstream_inputs(pipeline, setting: str) -> dict[str, str]:
    """Input files of a ``downstream`` setting (for its rule): the clip features, the teacher, the
    dataset's manifest (UrbanSound8K, SONYC-UST) and, for input ``cnn``, the CNN transcoder of
    the ``paper`` plan trained for that classifier with ``downstream.cnn_target``.

    Parameters
    ----------
    pipeline : audiopipe.pipeline.workflow.Pipeline
    setting : str
        Identifier of the ``downstream`` setting.
    """
    levels = pipeline.setting("transcoder", "downstream", setting).values
    section = pipeline.config["transcoder"]
    out = {"teacher": f"results/transcoder/teachers/{levels['classifier']}/teacher.pt",
           "features": "data/features/transcoder/sonyc_ust_clips.h5" if levels["dataset"] == "sonyc_ust"
           else "data/features/transcoder/clips.h5"}
    if levels["dataset"] in ("urbansound8k", "sonyc_ust"):
        out["manifest"] = pipeline.manifest(levels["dataset"])
    if levels["input"] == "cnn":
        paper = pipeline.plans["transcoder"]["paper"]
        cnn = paper.setting("default")
        cnn = type(cnn)(paper.name, {**cnn.values, "transcoder": "cnn_pinv", "classifier": levels["classifier"],
                                     "target": section["downstream"]["cnn_target"]}, paper.default)
        out["cnn"] = f"results/transcoder/paper/{cnn.id}/metrics.json"
    return out


RECIPE = Recipe(
    name="transcoder",
    title="Spectral Transcoder (Tailleur et al. 2023): third-octave -> Mel for PANN / YAMNet",
    stages={"features": features, "teacher": teacher, "setting": setting, "downstream": downstream},
    factors={"transcoder": "pinv (pseudo-inverse) or cnn_pinv (CNN on the PINV estimate)",
             "classifier": "PANN or YAMNet: the pretrained classifier the transcoder serves",
             "target": "mel (Mel MSE) or logits (teacher-student BCE on the classifier's outputs)",
             "dataset": "downstream dataset: urbansound8k (fold accuracy), sonyc_ust (macro-AUPRC), "
                        "demo_clips (the demo clip shard: a pipeline check)",
             "input": "downstream input: mel (true log-Mel), pinv or cnn (transcoded)"},
    levels={"transcoder": ("pinv", "cnn_pinv"), "classifier": ("PANN", "YAMNet"), "target": ("mel", "logits"),
            "dataset": ("urbansound8k", "sonyc_ust", "demo_clips"), "input": ("mel", "pinv", "cnn")},
    table=TableSpec(metrics=("mel_mse", "logit_bce", "kl", "ptopafc", "accuracy", "macro_auprc"),
                    lower_is_better=("mel_mse", "logit_bce", "kl")),
    corpora=lambda section: ["tau_urban", "urbansound8k", "ami"],
)
