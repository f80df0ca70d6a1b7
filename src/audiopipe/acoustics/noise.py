"""Diffuse (spatially coherent) noise: Habets' arbitrary noise-field generator.

Source: E. A. P. Habets, I. Cohen and S. Gannot, "Generating nonstationary multisensor signals
under a spatial coherence constraint", JASA 124(5), 2008 (eq. (4)-(9)); reference code
``ehabets/ANF-Generator`` and its port in SAR-SSL (Audio-WestlakeU/SAR-SSL,
``code_v1/dataset.py``, ``NoiseDataset.gen_diffuse_noise``, ``gen_desired_spatial_coherence``,
``mix_matrix``, ``diffuse_noise``): M mutually independent signals are mixed per STFT bin by a
matrix ``C(k)`` with ``C^H C = Gamma(k)``, the desired coherence; the STFT uses a Hann window
of ``nfft`` samples with 75 % overlap; the DC bin is zeroed (its mixing matrix is left at 0).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.signal
import scipy.special

FIELDS = ("spherical", "cylindrical")


def spatial_coherence(mic_pos, freqs_hz, field: str = "spherical", sound_speed: float = 343.0) -> np.ndarray:
    """Coherence matrices of an ideal diffuse field.

    Spherically isotropic: ``Gamma_pq(f) = sinc(2 pi f d_pq / c)`` (unnormalised sinc
    ``sin(x)/x``); cylindrically isotropic: ``Gamma_pq(f) = J_0(2 pi f d_pq / c)``.

    Parameters
    ----------
    mic_pos : array-like, shape (channels, 3)
        Microphone positions in m.
    freqs_hz : array-like, shape (bins,)
        Frequencies in Hz.
    field : {"spherical", "cylindrical"}
    sound_speed : float
        Speed of sound in m/s.

    Returns
    -------
    numpy.ndarray, shape (bins, channels, channels)
        Real symmetric coherence matrices with unit diagonal.
    """
    if field not in FIELDS:
        raise ValueError(f"unknown noise field {field!r}; choose one of {FIELDS}")
    pos = np.asarray(mic_pos, float)
    d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)  # (M, M)
    x = 2 * np.pi * np.asarray(freqs_hz, float)[:, None, None] * d[None] / sound_speed
    if field == "spherical":
        return np.sinc(x / np.pi)
    return scipy.special.j0(x)


def mixing_matrices(coherence: np.ndarray, method: str = "cholesky") -> np.ndarray:
    """Per-bin mixing matrices ``C(k)`` with ``C(k)^H C(k) = Gamma(k)``; bin 0 (DC) is zero.

    ``method="cholesky"`` uses the upper Cholesky factor and falls back to the
    eigen-decomposition ``C = sqrt(max(D, 0)) V^H`` in bins where ``Gamma`` is not positive
    definite (e.g. coincident microphones or, for the sinc, near-singular low bins);
    ``method="eigen"`` uses the eigen-decomposition everywhere.

    Parameters
    ----------
    coherence : numpy.ndarray, shape (bins, channels, channels)
    method : {"cholesky", "eigen"}

    Returns
    -------
    numpy.ndarray, shape (bins, channels, channels), complex
    """
    if method not in ("cholesky", "eigen"):
        raise ValueError(f"unknown mixing method {method!r}; choose 'cholesky' or 'eigen'")
    g = np.asarray(coherence)
    out = np.zeros(g.shape, dtype=complex)
    if method == "cholesky":
        try:  # all bins at once; numpy raises if any bin is not positive definite
            out[1:] = np.conj(np.swapaxes(np.linalg.cholesky(g[1:]), -1, -2))
            return out
        except np.linalg.LinAlgError:
            pass
    for k in range(1, g.shape[0]):
        if method == "cholesky":
            try:
                out[k] = scipy.linalg.cholesky(g[k], lower=False)
                continue
            except np.linalg.LinAlgError:
                pass
        w, v = np.linalg.eigh(g[k])
        out[k] = np.sqrt(np.clip(w, 0, None))[:, None] * v.conj().T
    return out


def mix_signals(signals: np.ndarray, mixing: np.ndarray) -> np.ndarray:
    """Impose the coherence: STFT, ``X(k, t) = C(k)^H N(k, t)`` per bin, inverse STFT.

    Hann window of ``nfft`` samples, hop ``nfft / 4`` (75 % overlap, as SAR-SSL's
    ``scipy.signal.stft`` call), zero padding at the edges; computed with ``torch.stft``.

    Parameters
    ----------
    signals : numpy.ndarray, shape (channels, samples)
        Mutually independent input signals.
    mixing : numpy.ndarray, shape (nfft // 2 + 1, channels, channels)
        From :func:`mixing_matrices`.

    Returns
    -------
    numpy.ndarray, shape (channels, samples)
    """
    import torch

    nfft = 2 * (mixing.shape[0] - 1)
    n = signals.shape[-1]
    x = torch.as_tensor(np.asarray(signals, np.float32))
    win = torch.hann_window(nfft, periodic=True, dtype=torch.float32)
    kw = dict(n_fft=nfft, hop_length=nfft // 4, window=win, center=True)
    spec = torch.stft(x, pad_mode="constant", return_complex=True, **kw)  # (M, F, T)
    c_h = torch.as_tensor(np.conj(np.swapaxes(mixing, -1, -2)).astype(np.complex64))  # C(k)^H, (F, M, M)
    out = torch.matmul(c_h, spec.permute(1, 0, 2)).permute(1, 0, 2)  # (M, F, T)
    return torch.istft(out, length=n, **kw).numpy()


def diffuse_noise(
    rng: np.random.Generator,
    mic_pos,
    n_samples: int,
    fs: int,
    *,
    field: str = "spherical",
    nfft: int = 256,
    sound_speed: float = 343.0,
    method: str = "cholesky",
    signals: np.ndarray | None = None,
) -> np.ndarray:
    """Diffuse noise at the microphones (Habets' generator; SAR-SSL ``diffuse_white``).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the white Gaussian input signals (unless ``signals`` is given).
    mic_pos : array-like, shape (channels, 3)
        Microphone positions in m.
    n_samples : int
        Output length in samples.
    fs : int
        Sampling rate in Hz.
    field : {"spherical", "cylindrical"}
    nfft : int
        STFT length in samples (256 in SAR-SSL).
    sound_speed : float
        Speed of sound in m/s.
    method : {"cholesky", "eigen"}
    signals : numpy.ndarray, shape (channels, n_samples), optional
        Independent input signals (e.g. babble); default white Gaussian noise.

    Returns
    -------
    numpy.ndarray, shape (channels, n_samples), float32
        Noise with the desired coherence, scaled to unit peak as in SAR-SSL.
    """
    pos = np.asarray(mic_pos, float)
    if signals is None:
        signals = rng.standard_normal((pos.shape[0], n_samples), dtype=np.float32)
    if signals.shape != (pos.shape[0], n_samples):
        raise ValueError(f"signals must have shape {(pos.shape[0], n_samples)}, got {signals.shape}")
    freqs = np.arange(nfft // 2 + 1) * fs / nfft
    mix = mixing_matrices(spatial_coherence(pos, freqs, field, sound_speed), method)
    x = mix_signals(signals, mix)
    peak = np.max(np.abs(x))
    if peak == 0:
        raise ValueError("diffuse noise is all zeros (input signals are silent)")
    return (x / peak).astype(np.float32)


def measured_coherence(x: np.ndarray, nfft: int = 256) -> np.ndarray:
    """Real part of the measured complex coherence between channels 0 and 1 per bin.

    Parameters
    ----------
    x : numpy.ndarray, shape (2, samples)
    nfft : int

    Returns
    -------
    numpy.ndarray, shape (nfft // 2 + 1,)
    """
    _, _, s = scipy.signal.stft(x, window="hann", nperseg=nfft, noverlap=3 * nfft // 4, nfft=nfft)
    phi = np.mean(np.abs(s) ** 2, axis=-1)
    cross = np.mean(s[0] * np.conj(s[1]), axis=-1)
    return np.real(cross / np.sqrt(phi[0] * phi[1] + 1e-30))
