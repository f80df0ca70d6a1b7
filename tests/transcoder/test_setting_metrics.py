"""The `setting` stage scores per test recording (``transcoder.metrics.per: file``, the reference's
``compute_metrics``) or per 1-s clip (``per: clip``), on clip features of two real recordings."""

from __future__ import annotations

import json

import pytest

from audiopipe.features.clips import build_clip_features, clip_id, clip_recordings
from audiopipe.io import write_jsonl
from audiopipe.recipes import transcoder as rec
from tests.transcoder.test_downstream import CLIP, _teacher

TAU = "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav"
LEVELS = {"transcoder": "pinv", "classifier": "PANN", "target": "mel"}


def _features(fixtures_dir, tmp_path, name, items):
    man = tmp_path / f"{name}.jsonl.gz"
    write_jsonl(man, [{"id": i, "path": str(fixtures_dir / p), "split": "test"} for i, p in items])
    out = tmp_path / f"{name}.h5"
    n = build_clip_features([man], out, ["street_pedestrian", "dog_bark", "speech"], 1.0)
    return out, n


def _score(features, teacher, tmp_path, name, per):
    out = tmp_path / name
    params = {"metrics": {"per": per}, "cnn": {}, "training": {"lr": 0.001, "seed": 0}}
    rec.setting(features, teacher, "paper", "transcoder=pinv", LEVELS, params, out)
    return json.loads((out / "metrics.json").read_text())


def test_per_file_scores_average_the_recordings(fixtures_dir, tmp_path):
    teacher = _teacher(tmp_path, 3)
    items = [("tau_street", TAU), ("us8k_slice", CLIP)]
    both, n_clips = _features(fixtures_dir, tmp_path, "both", items)
    assert n_clips > 10  # the 10-s TAU recording gives ten clips, the slice at least one
    clip = _score(both, teacher, tmp_path, "clip", "clip")
    file = _score(both, teacher, tmp_path, "file", "file")
    assert clip["n"] == n_clips and file["n"] == 2
    # each recording alone: its per-file score; the two-file scores are their means
    alone = [_score(_features(fixtures_dir, tmp_path, i, [(i, p)])[0], teacher, tmp_path, f"{i}_file", "file")
             for i, p in items]
    for k in ("mel_mse", "logit_bce", "kl", "ptopafc"):
        assert file[k] == pytest.approx((alone[0][k] + alone[1][k]) / 2, rel=1e-6, abs=1e-9), k
    # recordings of unequal clip counts: the per-clip mean weights the long recording more
    assert clip["mel_mse"] != pytest.approx(file["mel_mse"], rel=1e-6)


def test_unknown_per_is_rejected_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="transcoder.metrics.per must be 'file' or 'clip', got 'track'"):
        rec.setting(tmp_path / "missing.h5", tmp_path, "paper", "default", LEVELS, {"metrics": {"per": "track"}},
                    tmp_path / "out")


def test_clip_recordings_inverts_clip_id_and_names_a_malformed_id():
    assert clip_recordings(["a_b_c0", "a_b_c12", "x_c3"]) == ["a_b", "a_b", "x"]
    assert clip_recordings([clip_id("street_c2", 7)]) == ["street_c2"]
    with pytest.raises(ValueError, match="'a_b'"):
        clip_recordings(["a_b"])
