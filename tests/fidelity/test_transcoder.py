"""Spectral Transcoder (Tailleur et al., DCASE 2023) against values of the official code.

Reference values: ``reference/transcoder/tau2020_street_pedestrian.json``, computed by running
``modantailleur/paperSpectralTranscoder`` @ 9599ac8 outside the project on the real TAU 2020
fixture clip (its ``provenance`` block names the files, functions, inputs and versions). Arrays
there are in the reference's (clip, time, frequency) layout; audiopipe's are (clip, frequency, time).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from audiopipe.features import mel as melmod
from audiopipe.features.clips import build_clip_features, clip_signal, load_clip_features
from audiopipe.io import read_audio, write_jsonl
from audiopipe.metrics.classification import kl_divergence, logit_bce, mel_mse, top_class_agreement
from audiopipe.models.transcoder import PinvTranscoder

REF = json.loads((Path(__file__).parent / "reference" / "transcoder" / "tau2020_street_pedestrian.json").read_text())
SUB = REF["provenance"]["inputs"]["stored_subsample"]
CLIPS, FRAMES_PANN, FRAMES_YAM = SUB["clips"], SUB["pann_frames"], SUB["yamnet_frames"]
TAU = "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav"


def _ref(key: str) -> np.ndarray:
    """Reference array as (clips, frequency, time), audiopipe's layout."""
    return np.asarray(REF[key], dtype=np.float64).transpose(0, 2, 1)


@pytest.fixture(scope="module")
def shard(fixtures_dir, tmp_path_factory):
    """The clip feature shard of the fixture recording, built by the real pipeline (manifest ->
    build_clip_features), with the default options (soxr, peak normalisation)."""
    tmp = tmp_path_factory.mktemp("clips")
    rec = {"id": "tau_fixture", "path": str(fixtures_dir / TAU), "sampling_rate": 44100, "num_samples": 441000,
           "num_channels": 1, "duration": 10.0, "split": "train", "scene_label": "street_pedestrian"}
    write_jsonl(tmp / "tau.jsonl", [rec])
    n = build_clip_features([tmp / "tau.jsonl"], tmp / "clips.h5", ["street_pedestrian"], 1.0)
    assert n == 10  # the reference's 10 chunks of len/10 samples
    return load_clip_features(tmp / "clips.h5")


def test_third_octave_levels_of_the_clip_pipeline(shard):
    got = shard["third_octave"][CLIPS].astype(np.float64)
    assert got.shape == (3, 29, 8)
    # Reference: float64 numpy levels of the float32 soxr output, stored to 6 decimals (+-5e-7 dB);
    # the shard stores float32, whose spacing at |L| < 128 dB is <= 7.6e-6 dB -> 1e-5 dB.
    np.testing.assert_allclose(got, _ref("third_octave"), rtol=0, atol=1e-5)
    # every clip of the recording: mean level over frames and bands
    all_means = shard["third_octave"].astype(np.float64).mean(axis=(1, 2))
    np.testing.assert_allclose(all_means, REF["third_octave_all_clips_mean"], rtol=0, atol=1e-5)
    print(f"FIDELITY transcoder third-octave: max abs difference {np.abs(got - _ref('third_octave')).max():.3g} dB")


def test_pann_log_mel_of_the_clip_pipeline(shard):
    got = shard["mel_PANN"][CLIPS][:, :, FRAMES_PANN].astype(np.float64)
    # Reference: torchlibrosa's float32 STFT (conv1d of 1024 taps) and Mel matmul, relative error
    # ~1e-6 on the power of loud bins and more in the quietest ones (measured 1.1e-5 dB) -> 1e-4 dB.
    np.testing.assert_allclose(got, _ref("pann_mel"), rtol=0, atol=1e-4)
    print(f"FIDELITY transcoder PANN log-Mel: max abs difference {np.abs(got - _ref('pann_mel')).max():.3g} dB")


def test_yamnet_log_mel_of_the_clip_pipeline(shard):
    got = shard["mel_YAMNet"][CLIPS][:, :, FRAMES_YAM].astype(np.float64)
    assert shard["mel_YAMNet"].shape[1:] == (64, 96)
    # Reference: torchaudio float32 STFT and MelScale, log(x + 0.001); measured 7e-6 -> 1e-4.
    np.testing.assert_allclose(got, _ref("yamnet_mel"), rtol=0, atol=1e-4)
    print(f"FIDELITY transcoder YAMNet log-Mel: max abs difference {np.abs(got - _ref('yamnet_mel')).max():.3g}")


def test_peak_normalisation_is_the_level_offset_the_reference_applies(fixtures_dir):
    """Without the reference's librosa.util.normalize the levels of this clip sit 20 log10(peak)
    (-9.1 dB here) lower; normalize=None keeps that raw level on purpose."""
    x, sr = read_audio(fixtures_dir / TAU)
    x = x.mean(0)
    raw = clip_signal(x, sr, 32000, normalize=None)
    norm = clip_signal(x, sr, 32000)
    # the peak of the resampled signal is the one the reference divides by (float32 soxr on both sides)
    assert np.abs(raw).max() == pytest.approx(REF["peak"]["sr32000"], rel=1e-6)
    np.testing.assert_allclose(norm * np.abs(raw).max(), raw, rtol=1e-6, atol=1e-9)
    # polyphase resampling stays available; its levels are within a few hundredths of a dB
    poly = clip_signal(x, sr, 32000, resampler="polyphase")
    assert np.abs(poly[:32000] - norm[:32000]).max() < 0.01
    with pytest.raises(ValueError, match="normalize"):
        clip_signal(x, sr, 32000, normalize="rms")


@pytest.mark.parametrize("cfg, key, frames, tol", [
    # Reference pinv is float32 (torch.linalg.pinv of the band matrix, float32 Mel matrix): a float64
    # run of the same code differs from it by 2.2e-3 dB (PANN) and 5.2e-4 (YAMNet, log units) on these
    # clips, while audiopipe's float32 PinvTranscoder is within 1e-5 of that float64 run.
    (melmod.PANN, "pinv_pann", FRAMES_PANN, 5e-3),
    (melmod.YAMNET, "pinv_yamnet", FRAMES_YAM, 2e-3),
])
def test_pinv_transcoder(cfg, key, frames, tol):
    levels = torch.tensor(REF["third_octave"], dtype=torch.float32).transpose(1, 2)  # (clips, 29, 8)
    got = PinvTranscoder(cfg)(levels).numpy().astype(np.float64)
    assert got.shape == (3, 64, cfg.frames)
    np.testing.assert_allclose(got[:, :, frames], _ref(key), rtol=0, atol=tol)
    print(f"FIDELITY transcoder {key}: max abs difference {np.abs(got[:, :, frames] - _ref(key)).max():.3g}")


def test_pinv_yamnet_magnitude_option_is_not_the_reference():
    """magnitude=True (sqrt of the PINV power before YAMNet's Mel matrix) is a different system."""
    levels = torch.tensor(REF["third_octave"], dtype=torch.float32).transpose(1, 2)
    got = PinvTranscoder(melmod.YAMNET, magnitude=True)(levels).numpy()[:, :, FRAMES_YAM]
    assert np.abs(got - _ref("pinv_yamnet")).max() > 1.0


@pytest.mark.parametrize("case", ["clips", "files"])
def test_transcoder_metrics(case):
    """Mel MSE, logit BCE, KL and PTOPAFC as experiment_manager.compute_metrics computes them.

    The reference runs in float32 (torch.FloatTensor): relative error ~1e-7 per value, 1e-6 after
    the means -> rel 1e-6 (and 1e-8 absolute for KL, which is near 0)."""
    ref = REF["metrics"][case]
    teacher = torch.tensor(REF["teacher_logits"], dtype=torch.float64)
    student = torch.tensor(REF["student_logits"], dtype=torch.float64)
    true = torch.tensor(REF["pann_mel"], dtype=torch.float64)
    pinv = torch.tensor(REF["pinv_pann"], dtype=torch.float64)
    groups = None if case == "clips" else ref["groups"]
    mel_groups = None if case == "clips" else [0] * len(CLIPS)
    assert mel_mse(pinv, true, mel_groups) == pytest.approx(ref["mel_mse"], rel=1e-6)
    assert logit_bce(student, teacher, groups) == pytest.approx(ref["logit_bce"], rel=1e-6)
    assert kl_divergence(student, teacher, groups) == pytest.approx(ref["logit_kl"], rel=1e-6, abs=1e-8)
    assert top_class_agreement(student, teacher, groups) == pytest.approx(ref["ptopafc"], rel=1e-6)
    got = {"mel_mse": mel_mse(pinv, true, mel_groups), "logit_bce": logit_bce(student, teacher, groups),
           "logit_kl": kl_divergence(student, teacher, groups), "ptopafc": top_class_agreement(student, teacher, groups)}
    print("FIDELITY transcoder metrics " + case + ": " + ", ".join(f"{k} rel. difference {abs(v - ref[k]) / abs(ref[k]):.2g}" for k, v in got.items()))
    if case == "clips":
        # the softmax KL (audiopipe's former definition) is another quantity
        assert abs(kl_divergence(student, teacher, kind="softmax") - ref["logit_kl"]) > 1e-3
