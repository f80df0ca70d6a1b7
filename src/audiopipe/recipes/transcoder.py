"""Spectral Transcoder (Tailleur et al., DCASE 2023): third-octave -> Mel for pretrained classifiers.

Stages: ``demo`` (demo corpora from the real fixtures) -> ``prepare`` (manifests) -> ``features``
(third-octave + log-Mel clip shard) -> ``teacher`` (pretrained classifier from a user path, or a
small teacher trained on the demo data) -> ``setting`` (train a transcoder of one plan setting and
write its ``metrics.json``) -> ``summarise`` (table and plot of a plan).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from audiopipe.corpora import ami, tau_urban, urbansound8k
from audiopipe.features.clips import build_clip_features, load_clip_features
from audiopipe.features.mel import get_config
from audiopipe.io import atomic_path, stable_seed, write_json
from audiopipe.metrics.classification import kl_divergence, logit_bce, mel_mse, top_class_agreement
from audiopipe.models.classifiers import build_classifier
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
        fit(module, loader(data[f"mel_{cfg.name}"], data["labels"], batch_size=params["batch_size"],
                           shuffle=True, seed=seed), output_dir / "checkpoints", params["epochs"], seed)
        model = module.classifier.eval()
        info = {"classifier": classifier, "pretrained": False, "weights": None, "classes": len(data["classes"]),
                "width": params["width"], "trained_on": str(features), "label_names": data["classes"],
                "note": "no pretrained weights given: small teacher trained on the demo clips"}
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
          "summarise": summarise}
