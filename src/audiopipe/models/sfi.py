"""Sampling-frequency-independent (SFI) convolutional layers.

Reference: K. Saito, T. Nakamura, K. Yatabe, H. Saruwatari, "Sampling-frequency-independent
convolutional layer and its application to audio source separation", IEEE/ACM TASLP 30,
pp. 2928-2943, 2022 (latent analog filters; time-domain and frequency-domain filter designs;
section numbers are not cited: they were not checked against the paper). Reference
implementation: ``TomohikoNakamura/sfi_convtasnet``, files
``sfi_conv/continuous_filters.py`` and ``sfi_conv/fir_design.py`` (read, not copied).

An SFI layer does not own its weights. It owns a bank of *latent analog filters* (continuous-time
impulse responses ``h_k(t)`` with closed-form frequency responses ``H_k(ω)``, ω in rad/s) and
*generates* digital weights for whatever sampling rate ``fs`` the input has:

time-domain (TD) design
    ``w_k[n] = h_k(t_n) / fs`` — the impulse response sampled at the tap times ``t_n``. The
    ``1/fs`` factor makes the digital frequency response ``Σ_n w_k[n] e^{-iω t_n}`` a Riemann sum
    of the analog Fourier integral, so it approximates ``H_k(ω)`` at every rate.
frequency-domain (FD) design
    ``w_k`` = least-squares real FIR whose response matches ``H_k(ω_m)`` at ``M`` equally spaced
    frequencies ``ω_m`` in ``[0, π fs]`` (a pseudo-inverse that depends only on ``fs``, the
    kernel size and ``M``, cached).

Kernel size and stride scale with the rate: ``K = L·fs/fs_ref`` and ``S = S_ref·fs/fs_ref``
(``fs_ref`` = the rate at which ``L`` and ``S_ref`` are given, 32 kHz in the paper), so the
kernel always spans the same duration (5 ms) and frames are always 2.5 ms apart. **Non-integer
sizes** (e.g. 44.1 kHz: K = 220.5) are rounded half-up to the nearest integer (at least 1), and
the analog filters are still sampled at the exact tap times ``n/fs``; only the kernel span and
the hop then differ from the nominal duration by less than one sample. ``rounding="error"``
raises instead.

**TD/FD scaling difference in the reference code.** The reference TD generator for the modulated
Gaussian filter returns ``2·sqrt(2π σ²)·exp(-σ² t²/2)·cos(μ t + φ)`` with no ``1/fs``; the exact
inverse Fourier transform of the frequency response it fits in the FD generator is
``2·σ/sqrt(2π)·exp(-σ² t²/2)·cos(μ t + φ)``. Its TD weights are therefore ``2π·fs`` times the
weights whose response equals ``H_k`` — the FD weights. A following gLN hides that gain in the
encoder but not in the decoder, and the gain changes with ``fs``. We follow the paper's
definition (both designs approximate ``H_k``, so TD and FD give the same response);
``weight_scale="reference"`` reproduces the reference code's TD gain (``2π·fs``·paper weights)
for comparison.

Aliasing: when ``fs/2`` is below a filter's centre frequency that filter is switched off (its
weights set to zero), as the reference code does for the TD design when ``fs`` is below the
training rate; we apply it to both designs (``nyquist_mask=False`` turns it off).

Decoder gain: a transposed convolution overlap-adds one kernel per frame. To make the output
level independent of ``fs`` the decoder weights are multiplied by the stride ``S`` (in samples):
the overlap-add ``Σ_m z_m · S · w[n - mS]`` is then the Riemann sum, with the fixed frame period
``Δ = S/fs``, of the analog synthesis ``∫ z(τ) h(t-τ) dτ``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "hz_to_erb",
    "erb_to_hz",
    "ModulatedGaussianFilters",
    "MultiPhaseGammatoneFilters",
    "scaled_size",
    "td_weights",
    "fd_weights",
    "SFIEncoder",
    "SFIDecoder",
    "digital_response",
    "make_filters",
    "tap_times",
]


def hz_to_erb(f_hz):
    """ERB-number (Glasberg & Moore 1990) of a frequency in Hz: ``9.265·ln(1 + f/(24.7·9.265))``."""
    return 9.265 * np.log1p(np.asarray(f_hz, dtype=float) / (24.7 * 9.265))


def erb_to_hz(erb):
    """Inverse of :func:`hz_to_erb` (Hz)."""
    return (np.exp(np.asarray(erb, dtype=float) / 9.265) - 1.0) * 24.7 * 9.265


def _erb_space(f_min: float, f_max: float, n: int) -> np.ndarray:
    if not 0 < f_min < f_max:
        raise ValueError(f"frequency range must satisfy 0 < f_min < f_max, got [{f_min}, {f_max}] Hz")
    return erb_to_hz(np.linspace(hz_to_erb(f_min), hz_to_erb(f_max), n))


class ModulatedGaussianFilters(nn.Module):
    """Bank of modulated Gaussian latent analog filters (paper; reference ``continuous_filters.py``).

    ``H_k(ω) = e^{iφ_k} exp(-(ω-μ_k)²/(2σ_k²)) + e^{-iφ_k} exp(-(ω+μ_k)²/(2σ_k²))`` (ω in rad/s);
    its impulse response is ``h_k(t) = 2 σ_k/sqrt(2π) exp(-σ_k² t²/2) cos(μ_k t + φ_k)``, real and
    centred on ``t = 0`` (the kernel taps are placed symmetrically around 0).

    Parameters
    ----------
    n_filters : int
        Number of filters ``N``.
    freq_range : tuple of float
        Initial centre frequencies, ERB-spaced between these two values (Hz); paper: 50 Hz-16 kHz.
    init_sigma_hz : float
        Initial bandwidth parameter σ/(2π) in Hz (reference code: 100 Hz).
    min_sigma_hz : float
        Lower bound of σ/(2π) during training (Hz).
    trainable : bool
        Whether μ, σ and φ are learnt.
    seed : int
        Seed of the initial phases, drawn uniformly in [0, π).
    """

    support = "centred"

    def __init__(self, n_filters: int, freq_range: tuple[float, float] = (50.0, 16000.0),
                 init_sigma_hz: float = 100.0, min_sigma_hz: float = 1.0, trainable: bool = True,
                 seed: int = 0) -> None:
        super().__init__()
        if n_filters < 1:
            raise ValueError(f"n_filters must be >= 1, got {n_filters}")
        mu = 2 * np.pi * _erb_space(float(freq_range[0]), float(freq_range[1]), n_filters)
        self.min_log_sigma2 = float(np.log((2 * np.pi * min_sigma_hz) ** 2))
        g = torch.Generator().manual_seed(int(seed))
        self.mu = nn.Parameter(torch.tensor(mu, dtype=torch.float32), requires_grad=trainable)
        self.log_sigma2 = nn.Parameter(
            torch.full((n_filters,), float(np.log((2 * np.pi * init_sigma_hz) ** 2))),
            requires_grad=trainable)
        self.phase = nn.Parameter(torch.rand(n_filters, generator=g) * math.pi, requires_grad=trainable)

    @property
    def n_filters(self) -> int:
        return int(self.mu.shape[0])

    def center_frequencies(self) -> torch.Tensor:
        """Centre frequencies ``μ_k/(2π)`` in Hz, shape ``(n_filters,)``."""
        return self.mu / (2 * math.pi)

    def _sigma2(self) -> torch.Tensor:
        return self.log_sigma2.clamp(min=self.min_log_sigma2).exp()

    def frequency_response(self, omega: torch.Tensor) -> torch.Tensor:
        """Complex ``H_k(ω)``, shape ``(n_filters, len(omega))``; ``omega`` in rad/s."""
        s2 = self._sigma2()[:, None]
        w = omega[None, :].to(self.mu.dtype)
        pos = torch.exp(-(w - self.mu[:, None]) ** 2 / (2 * s2))
        neg = torch.exp(-(w + self.mu[:, None]) ** 2 / (2 * s2))
        ph = self.phase[:, None]
        return torch.complex(pos * torch.cos(ph) + neg * torch.cos(ph),
                             pos * torch.sin(ph) - neg * torch.sin(ph))

    def impulse_response(self, t: torch.Tensor) -> torch.Tensor:
        """Real ``h_k(t)`` (1/s), shape ``(n_filters, len(t))``; ``t`` in s."""
        s2 = self._sigma2()[:, None]
        tt = t[None, :].to(self.mu.dtype)
        env = 2 * torch.sqrt(s2 / (2 * math.pi)) * torch.exp(-s2 * tt**2 / 2)
        return env * torch.cos(self.mu[:, None] * tt + self.phase[:, None])


class MultiPhaseGammatoneFilters(nn.Module):
    """Bank of multiphase gammatone latent analog filters (paper; Ditter & Gerkmann, ICASSP 2020;
    reference ``continuous_filters.py``).

    ``h_k(t) = g_k t^{n-1} exp(-2π b_k t) cos(2π f_k t + φ_k)`` for ``t >= 0`` (causal; taps at
    ``t = 0, 1/fs, ...``), with ERB bandwidth ``b_k = ERB(f_k)/c_n``,
    ``c_n = π (2n-2)! 2^{-(2n-2)} / ((n-1)!)²``. Closed-form response:
    ``H_k(ω) = g_k (n-1)!/2 [e^{iφ}(a + i(ω-ω_k))^{-n} + e^{-iφ}(a + i(ω+ω_k))^{-n}]``,
    ``a = 2π b_k``. ``n_center`` ERB-spaced centre frequencies each get several phases evenly
    spread in [0, π]; the second half of the bank repeats them with phase + π (sign-flipped
    filters), as in the reference code. The gain ``g_k = 2 a^n/(n-1)!`` gives every filter a peak
    gain of about 1 (analytic, hence rate-independent; the reference code instead normalises the
    sampled taps by their RMS).

    Parameters
    ----------
    n_filters : int
        Number of filters (even).
    freq_range : tuple of float
        Range of the ERB-spaced centre frequencies (Hz); reference code: 100 Hz-8 kHz.
    n_center : int
        Number of distinct centre frequencies (reference code: 24).
    order : int
        Gammatone order ``n``; the reference code uses 2.
    trainable : bool
        Whether centre frequencies and phases are learnt (reference: fixed).
    """

    support = "causal"

    def __init__(self, n_filters: int, freq_range: tuple[float, float] = (100.0, 8000.0),
                 n_center: int = 24, order: int = 2, trainable: bool = False) -> None:
        super().__init__()
        if n_filters % 2 or n_filters // 2 < n_center:
            raise ValueError(f"n_filters must be even and >= 2*n_center, got {n_filters} "
                             f"(n_center={n_center})")
        self.order = int(order)
        fc = _erb_space(float(freq_range[0]), float(freq_range[1]), n_center)
        reps = np.full(n_center, (n_filters // 2) // n_center)
        reps[: (n_filters // 2) - reps.sum()] += 1
        phases = np.concatenate([np.linspace(0.0, np.pi, r) for r in reps])
        fcs = np.repeat(fc, reps)
        fcs = np.concatenate([fcs, fcs])
        phases = np.concatenate([phases, phases + np.pi])
        fc_t = torch.tensor(fcs, dtype=torch.float32)
        ph_t = torch.tensor(phases, dtype=torch.float32)
        if trainable:
            self.fc = nn.Parameter(fc_t)
            self.phase = nn.Parameter(ph_t)
        else:
            self.register_buffer("fc", fc_t)
            self.register_buffer("phase", ph_t)

    @property
    def n_filters(self) -> int:
        return int(self.fc.shape[0])

    def center_frequencies(self) -> torch.Tensor:
        """Centre frequencies in Hz, shape ``(n_filters,)``."""
        return self.fc

    def _a(self) -> torch.Tensor:
        n = self.order
        c = math.pi * math.factorial(2 * n - 2) * 2.0 ** (-(2 * n - 2)) / math.factorial(n - 1) ** 2
        erb = 24.7 + self.fc / 9.265
        return 2 * math.pi * erb / c

    def _gain(self, a: torch.Tensor) -> torch.Tensor:
        return 2 * a**self.order / math.factorial(self.order - 1)

    def frequency_response(self, omega: torch.Tensor) -> torch.Tensor:
        """Complex ``H_k(ω)``, shape ``(n_filters, len(omega))``; ``omega`` in rad/s."""
        a = self._a()[:, None].to(torch.float64)
        wk = (2 * math.pi * self.fc)[:, None].to(torch.float64)
        w = omega[None, :].to(torch.float64)
        ph = self.phase[:, None].to(torch.float64)
        n = self.order
        e_pos = torch.polar(torch.ones_like(ph), ph)
        e_neg = torch.polar(torch.ones_like(ph), -ph)
        pos = e_pos / torch.complex(a.expand_as(w - wk), w - wk) ** n
        neg = e_neg / torch.complex(a.expand_as(w + wk), w + wk) ** n
        h = (self._gain(a) * math.factorial(n - 1) / 2) * (pos + neg)
        return h.to(torch.complex64)

    def impulse_response(self, t: torch.Tensor) -> torch.Tensor:
        """Real ``h_k(t)`` (1/s), zero for ``t < 0``, shape ``(n_filters, len(t))``; ``t`` in s."""
        a = self._a()[:, None]
        tt = t[None, :].to(self.fc.dtype)
        h = self._gain(a) * tt.clamp(min=0) ** (self.order - 1) * torch.exp(-a * tt.clamp(min=0))
        h = h * torch.cos(2 * math.pi * self.fc[:, None] * tt + self.phase[:, None])
        return torch.where(tt >= 0, h, torch.zeros_like(h))


def scaled_size(size_ref: int, fs: float, fs_ref: float, rounding: str = "nearest") -> int:
    """``size_ref·fs/fs_ref`` as an integer number of samples.

    Parameters
    ----------
    size_ref : int
        Size (samples) at ``fs_ref``.
    fs, fs_ref : float
        Sampling rates (Hz).
    rounding : {"nearest", "error"}
        ``nearest``: round half up (minimum 1). ``error``: raise when the product is not integral.

    Raises
    ------
    ValueError
        For a non-integral size with ``rounding="error"``, or an unknown ``rounding``.
    """
    exact = size_ref * float(fs) / float(fs_ref)
    if rounding == "error":
        if abs(exact - round(exact)) > 1e-9:
            raise ValueError(f"size {size_ref}·{fs}/{fs_ref} = {exact} samples is not an integer")
        return max(1, int(round(exact)))
    if rounding != "nearest":
        raise ValueError(f"rounding must be 'nearest' or 'error', got {rounding!r}")
    return max(1, int(math.floor(exact + 0.5)))


def tap_times(kernel_size: int, fs: float, support: str) -> torch.Tensor:
    """Tap times (s) of a ``kernel_size``-tap filter: centred on 0 or starting at 0 (causal)."""
    n = torch.arange(kernel_size, dtype=torch.float64)
    if support == "centred":
        n = n - (kernel_size - 1) / 2
    elif support != "causal":
        raise ValueError(f"unknown filter support {support!r}")
    return n / float(fs)


def _nyquist_mask(filters: nn.Module, fs: float) -> torch.Tensor:
    return (filters.center_frequencies() <= fs / 2).to(torch.float32)[:, None]


def td_weights(filters: nn.Module, fs: float, kernel_size: int, weight_scale: str = "paper",
               nyquist_mask: bool = True) -> torch.Tensor:
    """Time-domain design: sampled impulse responses.

    Parameters
    ----------
    filters : ModulatedGaussianFilters or MultiPhaseGammatoneFilters
    fs : float
        Sampling rate (Hz).
    kernel_size : int
        Number of taps.
    weight_scale : {"paper", "reference"}
        ``paper``: ``h(t_n)/fs`` (response ≈ ``H(ω)``). ``reference``: the reference code's gain,
        ``2π·fs`` times larger (see module docstring).
    nyquist_mask : bool
        Zero the filters whose centre frequency exceeds ``fs/2``.

    Returns
    -------
    torch.Tensor
        ``(n_filters, kernel_size)``, tap ``n`` at time ``t_n`` (not time-reversed).
    """
    t = tap_times(kernel_size, fs, filters.support).to(torch.float32)
    w = filters.impulse_response(t) / float(fs)
    if weight_scale == "reference":
        w = w * (2 * math.pi * float(fs))
    elif weight_scale != "paper":
        raise ValueError(f"weight_scale must be 'paper' or 'reference', got {weight_scale!r}")
    if nyquist_mask:
        w = w * _nyquist_mask(filters, fs)
    return w


@lru_cache(maxsize=32)
def _fd_design_matrix(fs: float, kernel_size: int, n_freqs: int, support: str):
    """Frequencies (rad/s) and pseudo-inverse of the real LS problem ``[cos; -sin] w = [Re H; Im H]``."""
    omega = torch.linspace(0.0, math.pi * float(fs), n_freqs, dtype=torch.float64)
    t = tap_times(kernel_size, fs, support)
    arg = omega[:, None] * t[None, :]
    A = torch.cat([torch.cos(arg), -torch.sin(arg)], dim=0)  # (2M, K)
    return omega, torch.linalg.pinv(A).to(torch.float32)  # (K, 2M)


def fd_weights(filters: nn.Module, fs: float, kernel_size: int, n_freqs: int = 640,
               nyquist_mask: bool = True) -> torch.Tensor:
    """Frequency-domain design: least-squares FIR fit to sampled responses.

    ``H_k`` is sampled at ``n_freqs`` equally spaced frequencies in ``[0, fs/2]`` and the real taps
    minimising ``Σ_m |Σ_n w[n] e^{-iω_m t_n} - H_k(ω_m)|²`` are found with a cached pseudo-inverse
    (reference code: ``fir_design.py``, ``_FreqRespSampFIRs``; 640 points).

    Returns
    -------
    torch.Tensor
        ``(n_filters, kernel_size)``, tap ``n`` at time ``t_n`` (not time-reversed).
    """
    omega, pinv = _fd_design_matrix(float(fs), int(kernel_size), int(n_freqs), filters.support)
    H = filters.frequency_response(omega.to(torch.float32))
    rhs = torch.cat([H.real, H.imag], dim=1).to(torch.float32)  # (n_filters, 2M)
    w = rhs @ pinv.T.to(rhs.device)
    if nyquist_mask:
        w = w * _nyquist_mask(filters, fs)
    return w


def digital_response(weights: torch.Tensor, fs: float, freqs_hz: torch.Tensor, support: str) -> torch.Tensor:
    """Frequency response ``Σ_n w[n] e^{-i 2π f t_n}`` of generated taps at analog frequencies.

    Parameters
    ----------
    weights : torch.Tensor
        ``(n_filters, kernel_size)`` as returned by :func:`td_weights` / :func:`fd_weights`.
    fs : float
        Rate the taps were generated for (Hz).
    freqs_hz : torch.Tensor
        Frequencies (Hz), shape ``(F,)``.
    support : {"centred", "causal"}

    Returns
    -------
    torch.Tensor
        Complex ``(n_filters, F)``.
    """
    t = tap_times(weights.shape[-1], fs, support)
    E = torch.exp(-1j * 2 * math.pi * freqs_hz.to(torch.float64)[:, None] * t[None, :])
    return weights.to(torch.complex128) @ E.T


def make_filters(kind: str, n_filters: int, params: dict | None = None) -> nn.Module:
    """Build a latent analog filter bank by name: ``mgf`` (modulated Gaussian) or ``mpgtf``
    (multiphase gammatone).

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    params = dict(params or {})
    if kind == "mgf":
        return ModulatedGaussianFilters(n_filters, **params)
    if kind == "mpgtf":
        return MultiPhaseGammatoneFilters(n_filters, **params)
    raise ValueError(f"unknown latent analog filter {kind!r}: expected 'mgf' or 'mpgtf'")


class _SFIConvBase(nn.Module):
    def __init__(self, n_filters: int, kernel_size: int = 160, stride: int = 80,
                 fs_ref: float = 32000.0, filters: str = "mgf", filter_params: dict | None = None,
                 design: str = "fd", n_freqs: int = 640, weight_scale: str = "paper",
                 nyquist_mask: bool = True, rounding: str = "nearest") -> None:
        super().__init__()
        if design not in ("td", "fd"):
            raise ValueError(f"design must be 'td' or 'fd', got {design!r}")
        if design == "fd" and weight_scale != "paper":
            raise ValueError("weight_scale='reference' only applies to the TD design")
        self.filters = make_filters(filters, n_filters, filter_params)
        self.kernel_size_ref, self.stride_ref, self.fs_ref = int(kernel_size), int(stride), float(fs_ref)
        self.design, self.n_freqs, self.weight_scale = design, int(n_freqs), weight_scale
        self.nyquist_mask, self.rounding = bool(nyquist_mask), rounding

    def sizes(self, fs: float) -> tuple[int, int]:
        """Kernel size and stride (samples) at rate ``fs`` (Hz)."""
        return (scaled_size(self.kernel_size_ref, fs, self.fs_ref, self.rounding),
                scaled_size(self.stride_ref, fs, self.fs_ref, self.rounding))

    def weights(self, fs: float) -> torch.Tensor:
        """Generated taps ``(n_filters, kernel_size(fs))`` (tap ``n`` at time ``t_n``)."""
        k, _ = self.sizes(fs)
        if self.design == "td":
            return td_weights(self.filters, fs, k, self.weight_scale, self.nyquist_mask)
        return fd_weights(self.filters, fs, k, self.n_freqs, self.nyquist_mask)


class SFIEncoder(_SFIConvBase):
    """SFI analysis convolution ``(batch, 1, samples) → (batch, N, frames)`` at any rate.

    Frame ``m`` covers samples ``[m·S, m·S + K)`` (no padding; the caller pads). Parameters are
    those of the paper's encoder: ``kernel_size`` L and ``stride`` at ``fs_ref``; ``filters``
    ``mgf``/``mpgtf``; ``design`` ``td``/``fd``; see the module docstring for the rest.
    """

    def forward(self, x: torch.Tensor, fs: float) -> torch.Tensor:
        _, s = self.sizes(fs)
        w = self.weights(fs).flip(-1)  # conv1d correlates: flip to convolve
        return F.conv1d(x, w[:, None, :].to(x.dtype), stride=s)


class SFIDecoder(_SFIConvBase):
    """SFI synthesis (transposed) convolution ``(batch, N, frames) → (batch, 1, samples)``.

    The generated taps are multiplied by the stride ``S`` so that the output level does not
    depend on ``fs`` (module docstring). Output length ``(frames-1)·S + K``.
    """

    def forward(self, z: torch.Tensor, fs: float) -> torch.Tensor:
        _, s = self.sizes(fs)
        w = self.weights(fs) * float(s)
        return F.conv_transpose1d(z, w[:, None, :].to(z.dtype), stride=s)
