"""Third-octave and log-Mel front ends: analytic cases, the seed's definition, real audio."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from audiopipe.features import mel as melmod
from audiopipe.features.third_octave import (
    band_bins,
    band_frequencies,
    levels_to_band_energy,
    seed_tukey_window,
    third_octave_levels,
    third_octave_matrix,
)
from audiopipe.io import read_audio

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _seed_reference import seed_third_octave, seed_tukey  # noqa: E402

TAU = "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav"


def test_band_layout_matches_definition():
    fc, lo, hi = band_frequencies()
    assert fc[0] == pytest.approx(19.95, abs=0.01) and fc[17] == 1000.0 and fc[28] == pytest.approx(12589.25, abs=0.01)
    np.testing.assert_allclose(hi[:-1], lo[1:])
    bins = band_bins()
    # shared boundary: last bin of band i is first bin of band i+1 wherever bands are wider than 1 bin
    shared = sum(bins[i][1] == bins[i + 1][0] for i in range(28))
    assert shared == 28
    m = third_octave_matrix()
    assert m.shape == (29, 2049)
    assert (m.sum(0) == 2).sum() == len({b[1] for b in bins[:-1]} & {b[0] for b in bins[1:]})
    part = third_octave_matrix(shared_boundary=False)
    assert part.sum(0).max() == 1


def test_tukey_window_matches_seed_loop():
    w, c = seed_tukey_window(4096, 0.2)
    w_ref, c_ref = seed_tukey(4096, 0.2)
    np.testing.assert_allclose(w, w_ref, atol=1e-15)
    assert c == pytest.approx(c_ref, rel=1e-14)


@pytest.mark.parametrize("band", [17, 24])
def test_tone_level_equals_its_rms(band):
    """A sinusoid of amplitude A centred in a band reads 20 log10(A / sqrt 2) + 26 dB there."""
    fc = band_frequencies()[0][band]
    t = np.arange(64000) / 32000
    lv = third_octave_levels(0.1 * np.sin(2 * np.pi * fc * t)).numpy()
    assert lv.shape == (29, 16)
    assert np.all(lv[:, 1:-1].argmax(0) == band)
    np.testing.assert_allclose(lv[band, 1:-1], 20 * np.log10(0.1 / np.sqrt(2)) + 26, atol=0.01)


def test_matches_seed_loop_on_real_clip(fixtures_dir):
    x, sr = read_audio(fixtures_dir / TAU)
    x32 = melmod.resample(x[0], sr, 32000).astype(np.float64)[: 32000 * 3]
    ref = seed_third_octave(x32)
    got = third_octave_levels(x32).numpy()
    assert got.shape == ref.shape == (29, 24)
    assert np.abs(got - ref).max() < 1e-9
    # a real street recording is far above the floor in every band
    assert got.min() > -120


def test_levels_to_band_energy_inverts_db():
    e = torch.tensor([[1e3, 1e6]], dtype=torch.float64)
    rms = torch.sqrt(e / 2) / 2048
    lv = 20 * torch.log10(rms) + 26
    torch.testing.assert_close(levels_to_band_energy(lv), e)


def test_short_signal_is_rejected():
    with pytest.raises(ValueError, match="fewer than one third-octave frame"):
        third_octave_levels(np.zeros(100))


def test_mel_filterbanks_analytic():
    fb = melmod.mel_filterbank(32000, 1024, 64, 50, 14000, "slaney")
    assert fb.shape == (64, 513)
    df = 32000 / 1024
    # Slaney area normalisation: each triangle integrates (in Hz) to ~1
    np.testing.assert_allclose(fb[17:].sum(1) * df, 1.0, rtol=0.03)
    assert fb[:, 0].sum() == 0 and fb[:, int(14000 / df) + 2:].sum() == 0
    htk = melmod.mel_filterbank(16000, 512, 64, 125, 7500, "htk_tf")
    assert htk.max() <= 1.0 and htk.max() > 0.9 and htk[:, 0].sum() == 0
    with pytest.raises(ValueError, match="fmax"):
        melmod.mel_filterbank(16000, 512, 64, 125, 9000)


def test_log_mel_shapes_and_tone(fixtures_dir):
    t = np.arange(32000) / 32000
    lm = melmod.log_mel(np.sin(2 * np.pi * 1000 * t), melmod.PANN)
    assert lm.shape == (64, 101)
    peak = int(lm[:, 50].argmax())
    lo_hz = melmod.mel_to_hz_slaney(np.linspace(melmod.hz_to_mel_slaney(50), melmod.hz_to_mel_slaney(14000), 66))
    assert lo_hz[peak] < 1000 < lo_hz[peak + 2]
    x, sr = read_audio(fixtures_dir / TAU)
    x16 = melmod.resample(x[0, :sr], sr, 16000)
    # YAMNet as the transcoder's reference computes it: centred frames, 1 + 16000 // 160 of them
    y = melmod.log_mel(x16, melmod.YAMNET)
    assert y.shape == (64, 101) and torch.isfinite(y).all()
    assert y.min() >= np.log(0.001) - 1e-9
    # the TensorFlow front end frames from sample 0: 1 + (16000 - 400) // 160
    assert melmod.log_mel(x16, melmod.YAMNET_TF).shape == (64, 98)
