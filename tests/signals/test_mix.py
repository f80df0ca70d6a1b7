"""Convolution, SNR scaling and speech excerpts on real speech."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from audiopipe.io import read_audio, read_jsonl
from audiopipe.signals.mix import convolve_rir, convolve_rirs, scale_noise_to_snr, snr_db, speech_excerpt

FS = 16000


def test_convolution_matches_scipy_on_speech(fixtures_dir):
    x, fs = read_audio(fixtures_dir / "speech/cmu_arctic/cmu_arctic_us_aew_a0001.wav")
    rir = np.random.default_rng(0).standard_normal((2, 3001)).astype(np.float32) * np.exp(-np.arange(3001) / 500)
    y = convolve_rir(x[0], rir)
    ref = scipy.signal.fftconvolve(x[0][None, :], rir, axes=-1)[:, : x.shape[1]]
    assert y.shape == (2, x.shape[1])
    assert np.allclose(y, ref, atol=1e-4 * np.abs(ref).max())
    short = rir[:, :50].copy()
    a, b = convolve_rirs(x[0], rir, short)
    assert np.allclose(a, y, atol=1e-5 * np.abs(y).max())
    assert np.allclose(b, convolve_rir(x[0], short), atol=1e-5 * np.abs(y).max())


@pytest.mark.parametrize("snr", [15.0, 22.5, 30.0])
def test_noise_scaled_to_snr(snr, fixtures_dir):
    x, _ = read_audio(fixtures_dir / "speech/cmu_arctic/cmu_arctic_us_axb_a0004.wav")
    ref = np.stack([x[0], 0.5 * x[0]])
    noise = np.random.default_rng(1).standard_normal(ref.shape).astype(np.float32)
    assert snr_db(ref, scale_noise_to_snr(ref, noise, snr)) == pytest.approx(snr, abs=1e-3)
    with pytest.raises(ValueError, match="shapes differ"):
        scale_noise_to_snr(ref, noise[:, :10], snr)


def test_speech_excerpt_from_segment(speech_manifest, fixtures_dir):
    recs = read_jsonl(speech_manifest)
    seg = [r for r in recs if r["id"] == "sample-2"]
    out, prov = speech_excerpt(np.random.default_rng(0), seg, FS, FS)
    assert out.shape == (FS,) and abs(float(out.mean())) < 1e-6
    full, _ = read_audio(fixtures_dir / "speech/pyannote_sample/sample.wav")
    src = full[0, 10 * FS + prov["offset"]: 10 * FS + prov["offset"] + FS]
    assert np.allclose(out, src - src.mean(), atol=1e-6)


def test_speech_excerpt_concatenates_same_speaker(speech_manifest):
    recs = read_jsonl(speech_manifest)
    i = next(k for k, r in enumerate(recs) if r["id"] == "sample-3")
    out, prov = speech_excerpt(np.random.default_rng(0), recs, 8 * FS, FS, index=i)
    assert out.shape == (8 * FS,)
    assert prov["ids"][:2] == ["sample-3", "sample-0"]  # wraps within speaker "pyannote"


def test_speech_excerpt_rate_mismatch_names_record(speech_manifest):
    recs = read_jsonl(speech_manifest)
    with pytest.raises(ValueError, match="cmu_arctic_us_aew_a0001.*8000 Hz"):
        speech_excerpt(np.random.default_rng(0), recs[:1], FS, 8000)
    with pytest.raises(ValueError, match="no records"):
        speech_excerpt(np.random.default_rng(0), [], FS, FS)
