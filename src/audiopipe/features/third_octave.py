"""Third-octave band levels as stored by urban noise sensors (Cense), vectorised.

Source: Tailleur et al., "Spectral trancoder: using pretrained urban sound classifiers on
undersampled spectral representations", DCASE 2023, Sec. 2.1; reference implementation
``modantailleur/paperSpectralTranscoder`` ``utils/bands_transform.py`` (``ThirdOctaveTransform``,
itself a port of ``nicolas-f/noisesensor`` ``core/src/acoustic_indicators.c``).

Definition (the seed's, reproduced exactly by default):

* 29 bands, centre frequencies ``fc_i = 10 ** ((i - 17) / 10)`` kHz, ``i = 0..28``
  (20 Hz ... 12.5 kHz), edges ``fc * 10 ** (-1/20)`` and ``fc * 10 ** (1/20)``.
* Frames of 4096 samples at 32 kHz, hop 4000 samples (125 ms), Tukey window with
  ``alpha = 0.2`` sampled as in the seed (``0.5 (1 + cos(2 pi / alpha (n / M - alpha / 2)))`` on
  the tapers, i.e. divided by ``M``, not ``M - 1`` as in :func:`scipy.signal.windows.tukey`).
* A band sums the squared magnitudes of the real-FFT bins ``ceil(f_low / df) ..
  ceil(f_high / df)`` **inclusive**, ``df = sr / n_fft``. Because ``f_high`` of band ``i`` is
  ``f_low`` of band ``i + 1``, the boundary bin ``ceil(f_high_i / df)`` is counted in *both*
  bands (the "shared boundary bins"; 28 of them for the default parameters). The band matrix
  therefore has overlapping rows; :func:`third_octave_matrix` with ``shared_boundary=False``
  gives the half-open partition instead.
* Level ``20 log10(rms) + 26`` dB, ``rms = sqrt(sum / 2) / (n_fft / 2) * c_E`` with the seed's
  energy correction ``c_E = 1 / sqrt(mean(w ** 2))`` of the window ``w``; ``+26`` dB is the Cense
  microphone sensitivity offset. An ``rms <= 0`` is replaced by ``1e-9`` (the seed's ``10e-10``).
* The signal is zero-padded at the end so that ``(samples - n_fft)`` is a multiple of the hop.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: Default parameters (DCASE 2023 paper, "fast" 125-ms third-octave spectra).
SAMPLING_RATE = 32000
N_FFT = 4096
HOP = 4000
N_BANDS = 29
REF_BAND = 17
DB_OFFSET = 26.0
TUKEY_ALPHA = 0.2
RMS_FLOOR = 1e-9


def band_frequencies(n_bands: int = N_BANDS, ref_band: int = REF_BAND) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nominal-exact centre and edge frequencies of the third-octave bands.

    Returns
    -------
    fc, f_low, f_high : numpy.ndarray, shape ``(n_bands,)``
        Centre, lower and upper edge frequencies in Hz (``fc = 10 ** ((i - ref_band) / 10)`` kHz).
    """
    i = np.arange(n_bands, dtype=np.float64)
    fc = 1000.0 * 10.0 ** ((i - ref_band) / 10.0)
    return fc, fc * 10.0 ** (-1.0 / 20.0), fc * 10.0 ** (1.0 / 20.0)


def band_bins(sampling_rate: int = SAMPLING_RATE, n_fft: int = N_FFT,
              n_bands: int = N_BANDS) -> list[tuple[int, int]]:
    """First and last (inclusive) real-FFT bin of each band, as the seed computes them.

    Raises
    ------
    ValueError
        If a band reaches beyond the Nyquist bin ``n_fft // 2`` for this rate.
    """
    _, lo, hi = band_frequencies(n_bands)
    df = sampling_rate / n_fft
    out = [(int(math.ceil(a / df)), int(math.ceil(b / df))) for a, b in zip(lo, hi)]
    if out[-1][1] > n_fft // 2:
        raise ValueError(
            f"third-octave band {n_bands - 1} (upper edge {hi[-1]:.0f} Hz) exceeds the Nyquist "
            f"frequency at sampling_rate={sampling_rate} Hz, n_fft={n_fft}"
        )
    return out


def third_octave_matrix(sampling_rate: int = SAMPLING_RATE, n_fft: int = N_FFT,
                        n_bands: int = N_BANDS, shared_boundary: bool = True) -> np.ndarray:
    """0/1 band matrix ``(n_bands, n_fft // 2 + 1)`` mapping FFT-bin energies to band energies.

    Parameters
    ----------
    shared_boundary : bool
        True (seed): the boundary bin between two bands belongs to both. False: each boundary
        bin belongs only to the upper band (a partition of the bins).
    """
    m = np.zeros((n_bands, n_fft // 2 + 1))
    for b, (lo, hi) in enumerate(band_bins(sampling_rate, n_fft, n_bands)):
        m[b, lo:hi + 1] = 1.0
        if not shared_boundary and b + 1 < n_bands:
            m[b, hi] = 0.0
    return m


def seed_tukey_window(n: int = N_FFT, alpha: float = TUKEY_ALPHA) -> tuple[np.ndarray, float]:
    """Tukey window sampled as in the seed (Cense ``acoustic_indicators.c``) and its correction.

    Returns
    -------
    window : numpy.ndarray, shape ``(n,)``
    energy_correction : float
        ``1 / sqrt(mean(window ** 2))``.
    """
    i = np.arange(n, dtype=np.float64)
    begin = int((alpha / 2) * n)
    end = n - begin
    w = np.ones(n)
    w[:begin] = 0.5 * (1 + np.cos(2 * np.pi / alpha * (i[:begin] / n - alpha / 2)))
    w[end:] = 0.5 * (1 + np.cos(2 * np.pi / alpha * (i[end:] / n - 1 + alpha / 2)))
    return w, 1.0 / math.sqrt(float(np.sum(w * w)) / n)


def _pad_to_hop(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    n = x.shape[-1]
    if n < n_fft:
        raise ValueError(f"signal has {n} samples, fewer than one third-octave frame ({n_fft})")
    rem = (n - n_fft) % hop
    if rem:
        x = torch.nn.functional.pad(x, (0, hop - rem))
    return x


def third_octave_levels(
    x: np.ndarray | torch.Tensor,
    sampling_rate: int = SAMPLING_RATE,
    n_fft: int = N_FFT,
    hop: int = HOP,
    n_bands: int = N_BANDS,
    db_offset: float = DB_OFFSET,
    window: str = "seed",
    alpha: float = TUKEY_ALPHA,
    shared_boundary: bool = True,
) -> torch.Tensor:
    """Fast third-octave levels in dB of a waveform, all frames and bands in one pass.

    Parameters
    ----------
    x : array, shape ``(..., samples)``
        Waveform at ``sampling_rate`` Hz, full scale 1.0.
    sampling_rate : int
        Hz (32000 in the paper).
    n_fft, hop : int
        Frame length and hop in samples (4096, 4000).
    window : str
        ``"seed"`` (default, the seed's Tukey sampling) or ``"scipy"``
        (:func:`scipy.signal.windows.tukey`, symmetric).
    shared_boundary : bool
        Count boundary bins in both adjacent bands, as the seed does.

    Returns
    -------
    torch.Tensor, shape ``(..., n_bands, frames)``, float64
        Levels in dB (``20 log10(rms) + db_offset``).

    Raises
    ------
    ValueError
        If the signal is shorter than one frame, or ``window`` is unknown.
    """
    xt = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(torch.float64)
    xt = _pad_to_hop(xt, n_fft, hop)
    if window == "seed":
        w, corr = seed_tukey_window(n_fft, alpha)
    elif window == "scipy":
        from scipy.signal.windows import tukey

        w = tukey(n_fft, alpha, sym=True)
        corr = 1.0 / math.sqrt(float(np.mean(w * w)))
    else:
        raise ValueError(f"window must be 'seed' or 'scipy', got {window!r}")
    frames = xt.unfold(-1, n_fft, hop)  # (..., frames, n_fft)
    spec = torch.fft.rfft(frames * torch.from_numpy(w), dim=-1).abs().square()
    bands = torch.from_numpy(third_octave_matrix(sampling_rate, n_fft, n_bands, shared_boundary))
    energy = spec @ bands.T  # (..., frames, bands)
    rms = torch.sqrt(energy / 2) / (n_fft / 2) * corr
    rms = torch.where(rms > 0, rms, torch.full_like(rms, RMS_FLOOR))
    return (20 * torch.log10(rms) + db_offset).transpose(-1, -2)


def levels_to_band_energy(levels_db: torch.Tensor, n_fft: int = N_FFT,
                          db_offset: float = DB_OFFSET) -> torch.Tensor:
    """Invert the dB conversion: band energy ``sum |X_k|^2`` per band (without the window correction).

    Matches the seed's ``db_to_power_torch``: ``(10 ** ((L - 26) / 20) * n_fft * sqrt(2) / 2) ** 2``.
    Shape is preserved.
    """
    rms = 10.0 ** ((levels_db - db_offset) / 20.0)
    return (rms * n_fft * math.sqrt(2) / 2) ** 2
