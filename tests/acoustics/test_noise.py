"""Habets diffuse-noise generator: the generated coherence matches the model."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special

from audiopipe.acoustics import noise as N

FS = 16000
MICS = np.array([[1.0, 1.0, 1.0], [1.1, 1.0, 1.0]])


@pytest.mark.parametrize("field", ["spherical", "cylindrical"])
def test_generated_coherence_matches_model(field):
    x = N.diffuse_noise(np.random.default_rng(0), MICS, 8 * FS, FS, field=field)
    assert x.shape == (2, 8 * FS) and x.dtype == np.float32
    got = N.measured_coherence(x, 256)
    f = np.arange(129) * FS / 256
    kd = 2 * np.pi * f * 0.1 / 343.0
    want = np.sinc(kd / np.pi) if field == "spherical" else scipy.special.j0(kd)
    assert np.mean(np.abs(got[1:] - want[1:])) < 0.03
    assert np.max(np.abs(got[1:] - want[1:])) < 0.12


def test_mixing_matrices_factor_coherence_and_zero_dc():
    f = np.arange(129) * FS / 256
    g = N.spatial_coherence(MICS, f)
    c = N.mixing_matrices(g)
    assert np.all(c[0] == 0)
    assert np.allclose(np.einsum("fmi,fmj->fij", c.conj(), c)[1:], g[1:], atol=1e-10)


def test_eigen_fallback_for_singular_coherence():
    """Coincident microphones: coherence all ones, not positive definite; Cholesky fails."""
    mics = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.2, 1.0, 1.0]])
    g = N.spatial_coherence(mics, np.arange(129) * FS / 256)
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(g[5])
    c = N.mixing_matrices(g, "cholesky")
    assert np.allclose(np.einsum("fmi,fmj->fij", c.conj(), c)[1:], g[1:], atol=1e-8)
    x = N.diffuse_noise(np.random.default_rng(1), mics, 2 * FS, FS)
    assert np.corrcoef(x[0], x[1])[0, 1] > 0.99  # coincident channels are identical


def test_dc_bin_zeroed_and_bad_field():
    """The DC bin is dropped: far less DC-bin power than when it is passed through."""
    import scipy.signal

    f = np.arange(129) * FS / 256
    mix = N.mixing_matrices(N.spatial_coherence(MICS, f))
    keep_dc = mix.copy()
    keep_dc[0] = np.eye(2)
    w = np.random.default_rng(2).standard_normal((2, 4 * FS))

    def dc_power(y):
        _, _, s = scipy.signal.stft(y, window="hann", nperseg=256, noverlap=192)
        return np.mean(np.abs(s[:, 0, 2:-2]) ** 2)

    assert dc_power(N.mix_signals(w, mix)) < 0.4 * dc_power(N.mix_signals(w, keep_dc))
    with pytest.raises(ValueError, match="noise field"):
        N.spatial_coherence(MICS, [100.0], field="planar")
