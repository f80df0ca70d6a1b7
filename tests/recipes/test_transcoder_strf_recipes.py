"""Transcoder and STRF recipes end to end at a tiny size, on the demo corpora (TAU, UrbanSound8K,
AMI layouts) cut from the fixtures and read by their corpus adapters."""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import pytest
import yaml

from audiopipe import demo as D
from audiopipe.corpora import registry as corpora
from audiopipe.features.clips import clip_recordings, load_clip_features
from audiopipe.io import read_jsonl
from audiopipe.recipes import strf, transcoder

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ("tau_urban", "urbansound8k", "ami")


def _manifests(root):
    """name -> path of the prepared manifests (e.g. ``ami_test``)."""
    return {p.name.replace("_recordings", "").removesuffix(".jsonl.gz"): p for p in (root / "manifests").iterdir()}


@pytest.fixture(scope="module")
def demo(fixtures_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    for c in CORPORA:
        D.build(c, root / "demo" / c, fixtures_dir)
        corpora.prepare(c, root / "demo" / c, root / "manifests", {"splits": ["train", "test"]} if c == "ami" else {})
    return root


def test_demo_corpora_layout_and_provenance(demo, fixtures_dir):
    tau = json.loads((demo / "demo/tau_urban/DEMO.json").read_text())["files"]
    assert len(tau) == 10 and {r["split"] for r in tau} == {"train", "evaluate"}
    assert tau[3]["source"].endswith("street_pedestrian-paris-152-4607-a.wav") and tau[3]["source_start"] == 3.0
    ami = json.loads((demo / "demo/ami/DEMO.json").read_text())["pieces"]
    assert [r["uri"] for r in ami] == [f"sample_p{k}" for k in range(6)]
    m = _manifests(demo)
    assert set(m) == {"tau_urban_train", "tau_urban_evaluate", "urbansound8k", "ami_train", "ami_test"}
    test = read_jsonl(m["ami_test"])
    assert [r["id"] for r in test] == ["sample_p1", "sample_p4"]
    # the test pieces hold speech and non-speech, from the real RTTM shifted to the piece
    sp = [sum(e - s for s, e in r["speech"]) for r in test]
    assert 2.0 < sp[0] < 4.0 and 3.0 < sp[1] < 5.0
    assert read_jsonl(m["ami_train"])[0]["speech"] == []
    # deterministic: building again gives the same bytes
    before = (demo / "demo/ami/rttms/test/sample_p1.rttm").read_bytes()
    wav = (demo / "demo/tau_urban/audio/street_pedestrian-paris-152-4607s0-a.wav").read_bytes()
    for c in ("ami", "tau_urban"):
        D.build(c, demo / "demo" / c, fixtures_dir)
    assert (demo / "demo/ami/rttms/test/sample_p1.rttm").read_bytes() == before
    assert (demo / "demo/tau_urban/audio/street_pedestrian-paris-152-4607s0-a.wav").read_bytes() == wav


@pytest.mark.slow
def test_transcoder_recipe_tiny(demo, tmp_path):
    p = yaml.safe_load((ROOT / "params.yaml").read_text())["transcoder"]
    p["training"]["epochs"] = 1
    p["cnn"] = {"n_layers": 2, "channels": 2, "kernel": [5, 3]}
    p["plans"] = {"t": {"factors": {"transcoder": ["pinv", "cnn_pinv"], "classifier": ["PANN"], "target": ["logits"]},
                        "default": {"transcoder": "cnn_pinv", "classifier": "PANN", "target": "logits"}}}
    m = _manifests(demo)
    feats = tmp_path / "clips.h5"
    transcoder.features([m[n] for n in ("tau_urban_train", "tau_urban_evaluate", "urbansound8k",
                                        "ami_train", "ami_test")], feats, p["classes"])
    with h5py.File(feats) as h5:
        assert h5["third_octave"].shape[1:] == (29, 8) and h5["mel_PANN"].shape[1:] == (64, 101)
        assert h5["labels"][:].sum(0).tolist()[:2] == [10.0, 1.0]
    teacher = {**p["classifiers"]["PANN"], "epochs": 1}
    transcoder.teacher(feats, "PANN", tmp_path / "teacher", teacher)
    assert json.loads((tmp_path / "teacher/teacher.json").read_text())["pretrained"] is False
    test_ids = load_clip_features(feats, "test")["id"]
    n_files = len(set(clip_recordings(test_ids)))
    assert (len(test_ids), n_files) == (13, 5)
    res = tmp_path / "results"
    plan = __import__("audiopipe.pipeline.plans", fromlist=["load_plans"]).load_plans(p)["t"]
    for sid in ("default", "transcoder=pinv"):
        transcoder.setting(feats, tmp_path / "teacher", "t", sid, plan.setting(sid).values, p, res / "t" / sid)
        met = json.loads((res / "t" / sid / "metrics.json").read_text())
        # metrics.per: file (the default): one score per test recording, 13 clips of 5 recordings
        assert met["n"] == n_files and set(met) == {"mel_mse", "logit_bce", "kl", "ptopafc", "n"}
        assert all(math.isfinite(met[k]) for k in ("mel_mse", "logit_bce", "kl", "ptopafc"))
        assert json.loads((res / "t" / sid / "details.json").read_text())["teacher_pretrained"] is False
    assert (res / "t/default/checkpoints/last.ckpt").is_file()
    # same inputs, same bytes: training the CNN setting again from scratch gives identical metrics
    transcoder.setting(feats, tmp_path / "teacher", "t", "default", plan.setting("default").values, p, tmp_path / "again")
    assert (tmp_path / "again/metrics.json").read_bytes() == (res / "t/default/metrics.json").read_bytes()
    # pretrained weights from a user path: the demo teacher's file loads as "pretrained"
    transcoder.teacher(feats, "PANN", tmp_path / "t2",
                       {**teacher, "weights": str(tmp_path / "teacher/teacher.pt"), "classes": len(p["classes"])})
    assert json.loads((tmp_path / "t2/teacher.json").read_text())["pretrained"] is True
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        transcoder.teacher(feats, "PANN", tmp_path / "t3", {**teacher, "weights": str(tmp_path / "nowhere.pth")})


@pytest.mark.slow
def test_strf_sad_on_real_conversation_tiny(demo, tmp_path):
    p = yaml.safe_load((ROOT / "params.yaml").read_text())["strf"]
    p["sad"]["epochs"] = 1
    p["frontend"]["channels"] = 2
    m = _manifests(demo)
    strf.features([m["ami_train"], m["ami_test"]], [m["tau_urban_train"], m["tau_urban_evaluate"], m["urbansound8k"]],
                  tmp_path / "sad.h5", tmp_path / "clips.h5", p["classes"])
    with h5py.File(tmp_path / "sad.h5") as h5:
        assert sorted(h5) == [f"sample_p{k}" for k in range(6)]
        assert h5["sample_p0/mel"].shape == (64, 501) and h5["sample_p0/labels"][:].sum() == 0
    strf.setting(tmp_path / "sad.h5", tmp_path / "clips.h5", "paper", "default", {"frontend": "strf", "task": "sad"},
                 p, tmp_path / "r")
    met = json.loads((tmp_path / "r/metrics.json").read_text())
    det = json.loads((tmp_path / "r/details.json").read_text())
    assert met["n"] == 2 and 7.0 < det["speech_s"] < 8.0
    assert met["der"] == pytest.approx((det["false_alarm_s"] + det["miss_s"]) / det["speech_s"])
