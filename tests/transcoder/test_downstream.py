"""Downstream heads (issue 6 item 4): UrbanSound8K fold cross-validation, SONYC-UST macro-AUPRC.

Layouts are built in tmp from the real fixture slice ``fold5/100032-3-0-0.wav`` and real
UrbanSound8K metadata rows (``UrbanSound8K.bkp.csv``: the full official table).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score

from audiopipe.corpora import sonyc_ust, urbansound8k
from audiopipe.features.clips import build_clip_features
from audiopipe.io import write_json
from audiopipe.metrics.classification import macro_auprc
from audiopipe.models.classifiers import build_classifier
from audiopipe.recipes import transcoder as rec
from audiopipe.training.heads import fit_predict_head

US8K = "urban/UrbanSound8K"
CLIP = f"{US8K}/audio/fold5/100032-3-0-0.wav"
# slices per fold of the official UrbanSound8K release (Salamon et al. 2014; dataset README)
OFFICIAL_FOLD_SIZES = {1: 873, 2: 888, 3: 925, 4: 990, 5: 936, 6: 823, 7: 838, 8: 806, 9: 816, 10: 837}


def test_official_folds_from_real_metadata(fixtures_dir):
    df = urbansound8k.read_metadata(fixtures_dir / US8K / "metadata" / "UrbanSound8K.bkp.csv")
    assert df["fold"].value_counts().to_dict() == OFFICIAL_FOLD_SIZES
    pairs = urbansound8k.cross_validation_folds(df)
    assert [t for _, t in pairs] == list(range(1, 11))
    for train, test in pairs:
        assert test not in train and sorted(train + [test]) == list(range(1, 11))
    # the demo slice's real row: fold 5, dog_bark
    row = df[df["slice_file_name"] == "100032-3-0-0.wav"].iloc[0]
    assert (int(row["fold"]), row["class"]) == (5, "dog_bark")


def test_macro_auprc_hand_case_and_sklearn():
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    s = np.array([[0.9, 0.2, 0.5], [0.8, 0.7, 0.1], [0.3, 0.6, 0.2], [0.1, 0.4, 0.3]])
    # class 0 ranked 1,0,1,0 -> AP (1 + 2/3)/2; class 1 ranked 1,1,0,0 -> AP 1; class 2 has no positive
    assert macro_auprc(s, y) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)
    assert macro_auprc(s, y) == pytest.approx(average_precision_score(y[:, :2], s[:, :2], average="macro"))
    with pytest.raises(ValueError, match="no class has a positive"):
        macro_auprc(s, np.zeros_like(y))


def test_head_separable_and_degenerate_cases():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 1, (20, 4)), rng.normal(3, 1, (20, 4))])
    y = np.repeat([0, 2], 20)  # class 1 absent from training
    s = fit_predict_head(x, y, np.array([[-3.0] * 4, [3.0] * 4]), multilabel=False)
    assert s.shape == (2, 3) and list(s.argmax(1)) == [0, 2] and np.all(s[:, 1] == 0)
    ml = fit_predict_head(x, np.stack([y == 2, np.ones(40)], 1).astype(int), x[:2], multilabel=True)
    assert np.allclose(ml[:, 1], 1.0) and np.all(ml[:, 0] < 0.5)  # constant score for a one-value class
    with pytest.raises(ValueError, match="no training clip"):
        fit_predict_head(x[:0], y[:0], x, multilabel=False)


def _teacher(tmp_path, classes: int):
    torch.manual_seed(0)
    model = build_classifier("PANN", classes, 2)
    d = tmp_path / "teacher"
    d.mkdir()
    torch.save(model.state_dict(), d / "teacher.pt")
    write_json(d / "teacher.json", {"classifier": "PANN", "pretrained": False, "classes": classes, "width": 2})
    return d


@pytest.fixture(scope="module")
def us8k_layout(fixtures_dir, tmp_path_factory):
    """Three real metadata rows (folds 1-3, three classes) whose audio is the fixture slice."""
    root = tmp_path_factory.mktemp("us8k")
    full = pd.read_csv(fixtures_dir / US8K / "metadata" / "UrbanSound8K.bkp.csv")
    rows = pd.concat([full[(full["fold"] == f) & (full["classID"] == c)].iloc[:1] for f, c in [(1, 0), (2, 3), (3, 9)]])
    for r in rows.itertuples():
        (root / "audio" / f"fold{r.fold}").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fixtures_dir / CLIP, root / "audio" / f"fold{r.fold}" / r.slice_file_name)
    (root / "metadata").mkdir()
    rows.to_csv(root / "metadata" / "UrbanSound8K.csv", index=False)
    man = urbansound8k.prepare_urbansound8k(root, root / "manifests")
    build_clip_features([man], root / "clips.h5", urbansound8k.CLASSES, 1.0)
    return root, man, rows


@pytest.mark.parametrize("inp", ["mel", "pinv"])
def test_us8k_fold_protocol(us8k_layout, tmp_path, monkeypatch, inp):
    root, man, rows = us8k_layout
    seen = []
    import audiopipe.training.heads as heads

    real = heads.fit_predict_head

    def spy(a, y, b, ml, **kw):
        seen.append((len(a), sorted(y.tolist()), len(b)))
        return real(a, y, b, ml, **kw)

    monkeypatch.setattr(heads, "fit_predict_head", spy)
    rec.downstream(root / "clips.h5", _teacher(tmp_path, 10), _levels("urbansound8k", inp), tmp_path / "out", {},
                   manifest=man)
    m = json.loads((tmp_path / "out" / "details.json").read_text())
    assert m["folds_present"] == [1, 2, 3] and sorted(m["folds"]) == ["1", "2", "3"] and not m["skipped"]
    # each fold trains on the other folds' classes only and tests its own slice
    cls = dict(zip(rows["fold"], rows["classID"]))
    assert seen == [(2, sorted(c for f, c in cls.items() if f != k), 1) for k in (1, 2, 3)]
    # every fold's class is absent from its training folds: the head cannot be right
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics == {"accuracy": 0.0, "accuracy_std": 0.0, "n": 3}
    assert pd.read_csv(tmp_path / "out" / "scores.csv")["fold"].tolist() == [1, 2, 3]


def test_us8k_single_fold_demo_is_skipped_with_reason(fixtures_dir, tmp_path):
    from audiopipe.demo.urban import build_urbansound8k
    from audiopipe.io import read_jsonl

    demo = tmp_path / "demo"
    build_urbansound8k(demo, fixtures_dir, tmp_path)
    man = urbansound8k.prepare_urbansound8k(demo, tmp_path)
    assert [r["fold"] for r in read_jsonl(man)] == [5]
    build_clip_features([man], tmp_path / "clips.h5", urbansound8k.CLASSES, 1.0)
    rec.downstream(tmp_path / "clips.h5", _teacher(tmp_path, 10), _levels("urbansound8k", "mel"), tmp_path / "o",
                   {}, manifest=man)
    assert json.loads((tmp_path / "o" / "metrics.json").read_text()) == {"accuracy": None, "accuracy_std": None, "n": 0}
    m = json.loads((tmp_path / "o" / "details.json").read_text())
    assert m["folds_present"] == [5] and "no training recording" in m["skipped"]["5"]


def test_sonyc_macro_auprc_on_split(fixtures_dir, tmp_path):
    """SONYC-UST layout: the fixture slice as six clips, hand-made verified annotations."""
    (tmp_path / "sonyc" / "audio").mkdir(parents=True)
    rows = []
    for i, (split, dog) in enumerate([("train", 1), ("train", 0), ("train", 1), ("train", 0), ("test", 1), ("test", 0)]):
        name = f"{i:02d}_000.wav"
        shutil.copyfile(fixtures_dir / CLIP, tmp_path / "sonyc" / "audio" / name)
        rows.append({"split": split, "sensor_id": 0, "audio_filename": name, "annotator_id": 0,
                     **{f"{c}_presence": int(c == "8_dog" and dog) for c in sonyc_ust.COARSE}})
    pd.DataFrame(rows).to_csv(tmp_path / "sonyc" / "annotations.csv", index=False)
    man = sonyc_ust.prepare_sonyc_ust(tmp_path / "sonyc", tmp_path)
    assert man.name == "sonyc_ust_recordings.jsonl.gz"
    build_clip_features([man], tmp_path / "clips.h5", sonyc_ust.COARSE, 1.0)
    rec.downstream(tmp_path / "clips.h5", _teacher(tmp_path, 8), _levels("sonyc_ust", "pinv"), tmp_path / "o", {},
                   manifest=man)
    m = json.loads((tmp_path / "o" / "details.json").read_text())
    # identical audio: every test clip gets the same score, so AP of 8_dog = its test prevalence
    assert m["metric"] == "macro_auprc" and m["n_recordings"] == 6
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["macro_auprc"] == pytest.approx(0.5) and metrics["n"] == 1


def test_downstream_errors(us8k_layout, tmp_path):
    root, man, _ = us8k_layout
    t = _teacher(tmp_path, 10)
    with pytest.raises(ValueError, match="unknown downstream dataset"):
        rec.downstream(root / "clips.h5", t, _levels("esc50", "mel"), tmp_path, {}, manifest=man)
    with pytest.raises(ValueError, match="unknown downstream input"):
        rec.downstream(root / "clips.h5", t, _levels("urbansound8k", "stft"), tmp_path, {}, manifest=man)
    with pytest.raises(FileNotFoundError, match="CNN transcoder checkpoint"):
        rec.downstream(root / "clips.h5", t, _levels("urbansound8k", "cnn"), tmp_path, {}, manifest=man)
    with pytest.raises(ValueError, match="needs its manifest"):
        rec.downstream(root / "clips.h5", t, _levels("urbansound8k", "mel"), tmp_path, {})
    with pytest.raises(ValueError, match="teacher is PANN, the setting asks for YAMNet"):
        rec.downstream(root / "clips.h5", t, {**_levels("urbansound8k", "mel"), "classifier": "YAMNet"}, tmp_path, {},
                       manifest=man)


def test_cnn_input_loads_the_trained_transcoder(us8k_layout, tmp_path):
    from audiopipe.features.clips import load_clip_features
    from audiopipe.features.mel import PANN
    from audiopipe.training.transcoder import TranscoderModule

    root, _, _ = us8k_layout
    cnn = {"n_layers": 3, "channels": 4, "kernel": [5, 3]}
    torch.manual_seed(1)
    module = TranscoderModule("cnn_pinv", "PANN", "mel", cnn)
    torch.save({"state_dict": module.state_dict()}, tmp_path / "last.ckpt")
    data = load_clip_features(root / "clips.h5")
    got = rec._input_mel(data, "cnn", PANN, cnn, str(tmp_path / "last.ckpt"))
    with torch.no_grad():
        want = module.eval()(torch.as_tensor(data["third_octave"]))
    assert torch.equal(got, want)
    assert not torch.equal(got, rec._input_mel(data, "pinv", PANN, cnn, ""))


def test_downstream_plan_of_the_params_and_its_inputs():
    """The `downstream` plan's levels are checked by the recipe; its settings' inputs follow
    (features, teacher, manifest, and for input cnn the CNN transcoder of the paper plan)."""
    import yaml

    from audiopipe.pipeline.plans import Plan
    from audiopipe.pipeline.registry import get
    from audiopipe.pipeline.workflow import Pipeline
    from tests.conftest import REPO

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    pipe = Pipeline(params, log=lambda m: None)
    ins = rec.downstream_inputs(pipe, "classifier=YAMNet+input=cnn")
    assert ins == {"teacher": "results/transcoder/teachers/YAMNet/teacher.pt",
                   "features": "data/features/transcoder/clips.h5",
                   "manifest": "data/manifests/urbansound8k/urbansound8k_recordings.jsonl.gz",
                   "cnn": "results/transcoder/paper/classifier=YAMNet/metrics.json"}
    bad = Plan("downstream", {"dataset": ["urbansound8k"], "classifier": ["PANN"], "input": ["mel", "stft"]},
               {"dataset": "urbansound8k", "classifier": "PANN", "input": "mel"})
    with pytest.raises(ValueError, match="'stft'.*not allowed"):
        get("transcoder").check_plans(params["transcoder"], {"downstream": bad})


def _levels(dataset, inp, classifier="PANN"):
    """A setting of the `downstream` plan."""
    return {"dataset": dataset, "classifier": classifier, "input": inp}
