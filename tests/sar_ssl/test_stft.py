"""SAR-SSL features: against an independent numpy STFT, and on real fixture recordings."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.signal

from audiopipe.features.stft import cache_features, n_frames, read_shard_signals, stft_features


def numpy_stft(x: np.ndarray) -> np.ndarray:
    """Plain framing + periodic Hann + rfft, no centring: (bins=257, frames)."""
    win = scipy.signal.get_window("hann", 512)  # periodic
    nt = 1 + (len(x) - 512) // 256
    frames = np.stack([x[t * 256:t * 256 + 512] * win for t in range(nt)], axis=1)
    return np.fft.rfft(frames, axis=0)


def test_matches_numpy_stft_and_normalisation():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8448)).astype(np.float32)
    feats = stft_features(x)
    assert feats.shape == (2, 256, 32, 2)
    ref = [numpy_stft(x[c].astype(np.float64)) for c in range(2)]
    scale = np.abs(ref[0]).mean()  # channel 0, all 257 bins (DC included), all frames
    for c in range(2):
        got = feats[c, ..., 0] + 1j * feats[c, ..., 1]
        np.testing.assert_allclose(got, ref[c][1:] / scale, rtol=1e-4, atol=1e-5)


def test_scale_invariance_and_frames():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 2, 16640)).astype(np.float32)
    a, b = stft_features(x), stft_features(7.5 * x)
    assert a.shape == (3, 2, 256, 64, 2) and n_frames(16640) == 64
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="fewer than one"):
        stft_features(np.zeros((2, 300)))


def test_interchannel_phase_of_a_delayed_tone():
    """A tone at bin k delayed by d samples in channel 1: phase difference -2 pi k d / 512."""
    k, d = 40, 3
    n = np.arange(8448 + d)
    s = np.cos(2 * np.pi * k * n / 512)
    x = np.stack([s[d:], s[:-d]])  # channel 1 lags channel 0 by d samples
    f = stft_features(x)
    z0 = f[0, k - 1, :, 0] + 1j * f[0, k - 1, :, 1]
    z1 = f[1, k - 1, :, 0] + 1j * f[1, k - 1, :, 1]
    np.testing.assert_allclose(np.angle(z1 * np.conj(z0)), -2 * np.pi * k * d / 512, atol=1e-3)


def gcc_phat_lag(f: np.ndarray, max_lag: int = 90) -> int:
    """TDOA (samples) of channel 1 vs 0 from cached features (n bins 1..256) by GCC-PHAT."""
    x0 = f[0, ..., 0] + 1j * f[0, ..., 1]
    x1 = f[1, ..., 0] + 1j * f[1, ..., 1]
    cross = (x1 * np.conj(x0)).sum(axis=1)
    cross = np.concatenate([[0], cross / (np.abs(cross) + 1e-12)])
    cc = np.fft.irfft(cross, 512 * 8)  # upsampled by 8
    lags = np.concatenate([np.arange(0, max_lag * 8), np.arange(-max_lag * 8, 0)])
    vals = np.concatenate([cc[:max_lag * 8], cc[-max_lag * 8:]])
    return lags[np.argmax(vals)] / 8


def test_cache_on_real_recordings_keeps_tdoa(signal_shards, feature_shards):
    """Real speech x measured dEchorate RIRs: GCC-PHAT on the cached features finds the
    annotated direct-path TDOA, so the cache keeps the inter-channel phase."""
    with h5py.File(feature_shards["train"]) as f, h5py.File(signal_shards["train"]) as g:
        feats = f["features"][()]
        tdoa = f["labels/tdoa_samples"][()]
        np.testing.assert_array_equal(f["room_id"][()], g["room_id"][()])
        np.testing.assert_array_equal(tdoa, g["labels/tdoa_samples"][()])
        assert f.attrs["source"] == str(signal_shards["train"])
    np.testing.assert_allclose(feats, stft_features(read_shard_signals(signal_shards["train"])),
                               rtol=1e-5, atol=1e-6)
    est = np.array([gcc_phat_lag(x) for x in feats])
    # reverberant 0.5-s excerpts: most, not all, GCC-PHAT peaks sit on the direct path (the
    # annotated direct-path times of the directional source differ by up to ~2 samples)
    hits = np.abs(est - tdoa) <= 2.5
    assert hits.mean() >= 2 / 3, list(zip(est, tdoa))
    assert (np.abs(est - tdoa[::-1]) <= 2.5).mean() < 1 / 3  # wrong labels do not match


def test_int16_shard_is_scaled(signal_shards):
    x = read_shard_signals(signal_shards["val"])
    with h5py.File(signal_shards["val"]) as f:
        raw = f["signals"][()]
        assert raw.dtype == np.int16
        np.testing.assert_allclose(x, raw * f["signals"].attrs["scale"], rtol=1e-6)
    assert 0.3 < np.abs(x).max() <= 0.51  # the builder peak-normalises to 0.5


def test_missing_contract_key_is_named(signal_shards, tmp_path):
    bad = tmp_path / "bad.h5"
    with h5py.File(signal_shards["test"]) as f, h5py.File(bad, "w") as g:
        for k in ("signals", "room_id", "labels/tdoa_s", "labels/tdoa_samples", "labels/drr_db",
                  "labels/t60_s", "labels/absorption"):
            g.create_dataset(k, data=f[k][()])
        g.attrs["sampling_rate"] = 16000
    with pytest.raises(KeyError, match="labels/c50_db"):
        cache_features(bad, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_cache_is_byte_deterministic(signal_shards, tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    cache_features(signal_shards["test"], a)
    cache_features(signal_shards["test"], b)
    assert a.read_bytes() == b.read_bytes()
