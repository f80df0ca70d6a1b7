"""Metrics: analytic cases and the real conversation's reference annotation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from audiopipe.corpora.ami import read_rttm, speech_regions
from audiopipe.metrics.classification import (
    accuracy,
    kl_divergence,
    logit_bce,
    macro_auprc,
    mel_mse,
    top_class_agreement,
)
from audiopipe.metrics.detection import detection_error_rate, frames_to_regions, regions_to_frames


def test_classification_metrics_analytic():
    a = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
    assert mel_mse(a, a + 2) == pytest.approx(4.0)
    assert kl_divergence(a, a) == pytest.approx(0.0, abs=1e-12)
    assert kl_divergence(a, a.flip(-1)) > 0
    assert top_class_agreement(a, a) == 1.0 and top_class_agreement(a, a.flip(0)) == 0.0
    # BCE against itself is the mean Bernoulli entropy of the teacher
    p = torch.sigmoid(a.double())
    ent = float((-(p * p.log() + (1 - p) * (1 - p).log())).mean())
    assert logit_bce(a, a) == pytest.approx(ent)
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])) == 0.5
    assert macro_auprc(np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6]]), np.array([[1, 0], [0, 1], [0, 0]])) == 1.0
    # class 2: positives ranked 1st and 3rd -> AP = (1 + 2/3) / 2
    s = np.array([[0.9], [0.5], [0.4]])
    assert macro_auprc(s, np.array([[1], [0], [1]])) == pytest.approx((1 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="no class"):
        macro_auprc(s, np.zeros((3, 1)))


def test_detection_error_rate_on_real_reference(fixtures_dir):
    turns = read_rttm(fixtures_dir / "speech" / "pyannote_sample" / "sample.rttm")["sample"]
    ref = speech_regions(turns)
    total = sum(e - s for s, e in ref)
    assert detection_error_rate(ref, ref, [(0, 30)])["der"] == 0.0
    r = detection_error_rate(ref, [], [(0, 30)])
    assert r["der"] == pytest.approx(1.0) and r["miss"] == pytest.approx(total)
    r = detection_error_rate(ref, [(0, 30)], [(0, 30)])
    assert r["false_alarm"] == pytest.approx(30 - total) and r["der"] == pytest.approx((30 - total) / total)
    # frame round trip at 10 ms loses at most half a frame per boundary
    frames = regions_to_frames(ref, 3000, 0.01)
    back = frames_to_regions(frames > 0.5, 0.01)
    assert detection_error_rate(ref, back, [(0, 30)])["der"] < 2 * len(ref) * 0.01 / total + 1e-9
    assert not math.isnan(r["der"])
