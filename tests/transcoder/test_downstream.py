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
    real = rec.fit_predict_head

    def spy(a, y, b, ml, **kw):
        seen.append((len(a), sorted(y.tolist()), len(b)))
        return real(a, y, b, ml, **kw)

    monkeypatch.setattr(rec, "fit_predict_head", spy)
    rec.downstream(root / "clips.h5", "urbansound8k", inp, _teacher(tmp_path, 10), tmp_path / "out", {}, manifest=man)
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["folds_present"] == [1, 2, 3] and sorted(m["folds"]) == ["1", "2", "3"] and not m["skipped"]
    # each fold trains on the other folds' classes only and tests its own slice
    cls = dict(zip(rows["fold"], rows["classID"]))
    assert seen == [(2, sorted(c for f, c in cls.items() if f != k), 1) for k in (1, 2, 3)]
    # every fold's class is absent from its training folds: the head cannot be right
    assert m["mean"] == 0.0 and m["std"] == 0.0 and m["n_folds_scored"] == 3


def test_us8k_single_fold_demo_is_skipped_with_reason(fixtures_dir, tmp_path):
    demo = tmp_path / "demo"
    urbansound8k.build_demo(fixtures_dir, demo)
    man = urbansound8k.prepare_urbansound8k(demo, tmp_path)
    assert [r["fold"] for r in map(json.loads, man.read_text().splitlines())] == [5]
    build_clip_features([man], tmp_path / "clips.h5", urbansound8k.CLASSES, 1.0)
    rec.downstream(tmp_path / "clips.h5", "urbansound8k", "mel", _teacher(tmp_path, 10), tmp_path / "o", {}, manifest=man)
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["folds_present"] == [5] and m["mean"] is None and "no training recording" in m["skipped"]["5"]
    rec.downstream_table([tmp_path / "o" / "metrics.json"], tmp_path / "t")
    assert "n/a" in (tmp_path / "t" / "table.md").read_text()


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
    rec.prepare_sonyc(tmp_path / "sonyc", tmp_path)
    man = tmp_path / "sonyc_ust.jsonl"
    build_clip_features([man], tmp_path / "clips.h5", sonyc_ust.COARSE, 1.0)
    rec.downstream(tmp_path / "clips.h5", "sonyc_ust", "pinv", _teacher(tmp_path, 8), tmp_path / "o", {}, manifest=man)
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    # identical audio: every test clip gets the same score, so AP of 8_dog = its test prevalence
    assert m["metric"] == "macro_auprc" and m["n_recordings"] == 6
    assert m["mean"] == pytest.approx(0.5) and m["n_folds_scored"] == 1


def test_downstream_errors(us8k_layout, tmp_path):
    root, man, _ = us8k_layout
    t = _teacher(tmp_path, 10)
    with pytest.raises(ValueError, match="unknown downstream dataset"):
        rec.downstream(root / "clips.h5", "esc50", "mel", t, tmp_path, {}, manifest=man)
    with pytest.raises(ValueError, match="unknown downstream input"):
        rec.downstream(root / "clips.h5", "urbansound8k", "stft", t, tmp_path, {}, manifest=man)
    with pytest.raises(FileNotFoundError, match="CNN transcoder checkpoint"):
        rec.downstream(root / "clips.h5", "urbansound8k", "cnn", t, tmp_path, {}, manifest=man)


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


def test_downstream_params_section_validates():
    from pathlib import Path

    import jsonschema
    import yaml

    root = Path(__file__).resolve().parents[2]
    schema = yaml.safe_load((root / "workflow" / "schemas" / "transcoder.schema.yaml").read_text())
    tc = yaml.safe_load((root / "params.yaml").read_text())["transcoder"]
    jsonschema.validate({"transcoder": tc}, schema)
    tc["downstream"]["inputs"] = ["mel", "stft"]
    with pytest.raises(jsonschema.ValidationError, match="stft"):
        jsonschema.validate({"transcoder": tc}, schema)
