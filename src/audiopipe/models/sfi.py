"""Sampling-frequency-independent (SFI) convolutional layers.

Reference: K. Saito, T. Nakamura, K. Yatabe, H. Saruwatari, "Sampling-frequency-independent
convolutional layer and its application to audio source separation", IEEE/ACM TASLP 30,
pp. 2928-2943, 2022 (latent analog filters; time-domain and frequency-domain filter designs;
section numbers are not cited: they were not checked against the paper, whose text was not
available to the fidelity check). Reference implementation: ``TomohikoNakamura/sfi_convtasnet``
(commit ``f46f98a``), files ``sfi_conv/continuous_filters.py``, ``sfi_conv/fir_design.py`` and
``model/tasnet.py`` (read, not copied). ``tests/fidelity/test_sfi.py`` checks every quantity
below against values computed with that code; ``docs/fidelity.md`` lists the rows.

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

**Tap times** (:func:`tap_times`, the reference code's choices; the paper was not checked):

* TD, modulated Gaussian: ``t_n = (n - (K-1)/2)/fs``, centred on 0 (``grid="centred"``; the
  reference's ``t - t.mean()``).
* FD, modulated Gaussian: integer positions ``n = -(P-1) … P`` for an even ``K = 2P`` and
  ``-P … P`` for an odd ``K = 2P+1`` (``grid="integer"``; the reference's
  ``_FreqRespSampFIRs._compute_pinvW``). For an even ``K`` the time origin is therefore half a
  sample *before* the kernel centre, whereas the TD taps straddle it.
* Multiphase gammatone (causal), either design: ``t_k = k/fs`` with ``k = 1 … K`` for an even
  ``K`` (the origin, where ``h = 0`` for order 2, is skipped) and ``k = 0 … K-1`` for an odd ``K``
  (``grid="causal"``; the reference's ``MultiPhaseGammaToneFilters.get_impulse_responses``).

``tap_grid`` overrides the grid: ``"centred"`` for the FD design puts TD and FD taps on the same
times (their weights are then directly comparable and the origin is the kernel centre at every
rate, instead of a rate-dependent ``1/(2 fs)`` before it); ``"causal_zero"`` (``k = 0 … K-1``) is
the grid audiopipe used for the gammatone filters before the fidelity check.

**Kernel size and stride** scale with the rate: ``K = int(L·(fs/fs_ref))`` and
``S = int(S_ref·(fs/fs_ref))`` (``fs_ref`` = the rate at which ``L`` and ``S_ref`` are given, the
training rate, 32 kHz in the paper), so the kernel spans about 5 ms and frames are about 2.5 ms
apart at every rate. Non-integer sizes are **truncated** as the reference code does
(``MultiVariableFIRConvTasNet._compute_equivalent_frame_size_and_shift``; 44.1 kHz: kernel 220,
stride 110; 11.025 kHz: stride 27). ``rounding="nearest"`` rounds half up instead (kernel 221,
stride 28: the span and hop closest to the nominal durations) and ``rounding="error"`` raises.
The analog filters are always sampled at the exact tap times, whatever the rounding.

**TD gain of the reference code.** The reference TD generator for the modulated Gaussian filter
returns ``2·sqrt(2π σ²)·exp(-σ² t²/2)·cos(μ t + φ)`` with no ``1/fs``; the exact inverse Fourier
transform of the frequency response it fits in the FD generator is
``2·σ/sqrt(2π)·exp(-σ² t²/2)·cos(μ t + φ)``. Its TD weights are therefore ``2π·fs`` times the
weights whose response equals ``H_k`` — the FD weights. Its gammatone taps carry no ``1/fs``
either (``fs`` times ours). A following gLN hides that gain in the encoder but not in the
decoder, and the gain changes with ``fs``. audiopipe keeps the ``1/fs`` (both designs then
approximate ``H_k``, so TD and FD give the same response); ``weight_scale="reference"``
reproduces the reference code's TD taps exactly.

**Multiphase gammatone gain.** The reference samples ``t^{n-1} e^{-2π b t} cos(2π f t + φ)``
(unit amplitude) and scales every filter so that the RMS of its taps equals the largest RMS of
the bank (``normalize_filters``); ``gain="rms"`` (default) does the same on the generated taps of
either design. ``gain="analytic"`` uses ``g = 2 a^n/(n-1)!`` instead (peak gain about 1 at
every rate by construction; the RMS gain depends on the sampled taps, hence slightly on ``fs``
and ``K``, and on the other filters of the bank).

**Aliasing.** When ``fs/2`` is below a filter's centre frequency the reference code switches that
filter off (weights zero) in the TD design, and only when ``fs`` is below the training rate; its
FD design never does (the least-squares fit over ``[0, fs/2]`` does not alias).
``nyquist_mask="reference"`` (default) does the same; ``"always"`` masks in both designs at every
rate (audiopipe's earlier behaviour: both designs then have the same active filters, but a filter
that drifts above ``fs_ref/2`` during training would get zero weights and no gradient);
``"never"`` turns it off.

**Decoder taps and gain.** The reference decoder is a transposed convolution with the same
time-reversed kernel as the reference encoder, i.e. it synthesises with ``h_k(-t)`` (the adjoint
of analysing with ``h_k``); ``decoder_taps="reversed"`` (default) does the same.
``decoder_taps="forward"`` synthesises with ``h_k(t)`` (audiopipe's earlier choice: the analog
synthesis ``∫ z(τ) h(t-τ) dτ`` with the filter as defined; for learnt modulated Gaussians it is
the same family with ``φ → -φ``; for gammatones the reference's synthesis filters are
anti-causal, the forward ones causal).
A transposed convolution overlap-adds one kernel per frame. To make the output level
independent of ``fs`` the decoder weights are multiplied by the stride ``S`` (in samples):
the overlap-add ``Σ_m z_m · S · w[n - mS]`` is then the Riemann sum, with the fixed frame period
``Δ = S/fs``, of the analog synthesis. The reference code does not (``decoder_gain="none"``):
with its FD weights its output level goes as ``1/fs``, which its scale-invariant training loss
and BSSEval ignore.
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
    "default_grid",
    "GRIDS",
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
    centred on ``t = 0`` (TD taps straddle 0, FD taps sit on the integer grid around it: see
    :func:`tap_times`). The reference's TD generator returns ``2π`` times this function.

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

    def reference_td_gain(self, fs: float) -> float:
        """Gain of the reference code's TD taps over ``h(t_n)/fs``: ``2π·fs`` (module docstring)."""
        return 2 * math.pi * float(fs)

    def normalize_taps(self, w: torch.Tensor) -> torch.Tensor:
        """Generated taps are used as they are (no bank normalisation)."""
        return w

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
    reference ``continuous_filters.py``, ``MultiPhaseGammaToneFilters``).

    ``h_k(t) = g_k t^{n-1} exp(-2π b_k t) cos(2π f_k t + φ_k)`` for ``t >= 0`` (causal), with ERB
    bandwidth ``b_k = ERB(f_k)/c_n``, ``c_n = π (2n-2)! 2^{-(2n-2)} / ((n-1)!)²``. Closed-form
    response: ``H_k(ω) = g_k (n-1)!/2 [e^{iφ}(a + i(ω-ω_k))^{-n} + e^{-iφ}(a + i(ω+ω_k))^{-n}]``,
    ``a = 2π b_k``. ``n_center`` ERB-spaced centre frequencies each get several phases evenly
    spread in [0, π]; the second half of the bank repeats them with phase + π (sign-flipped
    filters), as in the reference code.

    Gain (``gain``):

    ``"rms"`` (default, reference code)
        ``g_k = 1`` for the analog filter; the generated taps of every filter are then scaled so
        that their RMS equals the largest RMS of the bank (:meth:`normalize_taps`, the
        reference's ``normalize_filters``). The paper does not fix the gain (not checked).
    ``"analytic"``
        ``g_k = 2 a^n/(n-1)!``: peak gain about 1 for every filter at every rate by construction,
        independent of the taps (the RMS gain depends slightly on ``fs`` and ``K`` through the
        sampled taps, and on the other filters of the bank); audiopipe's earlier choice.

    Parameters
    ----------
    n_filters : int
        Number of filters (even).
    freq_range : tuple of float
        Range of the ERB-spaced centre frequencies (Hz); reference default 100 Hz-8 kHz, reference
        configuration ``sfi_convtasnet_td_mpgtf.yaml``: 50 Hz-16 kHz.
    n_center : int
        Number of distinct centre frequencies (reference default 24, configuration 96).
    order : int
        Gammatone order ``n``; the reference code uses 2.
    trainable : bool
        Whether centre frequencies and phases are learnt (reference default: fixed; configuration:
        trainable).
    gain : {"rms", "analytic"}
        See above.

    Raises
    ------
    ValueError
        For an odd ``n_filters``, fewer than ``2·n_center`` filters, or an unknown ``gain``.
    """

    support = "causal"

    def __init__(self, n_filters: int, freq_range: tuple[float, float] = (100.0, 8000.0),
                 n_center: int = 24, order: int = 2, trainable: bool = False, gain: str = "rms") -> None:
        super().__init__()
        if n_filters % 2 or n_filters // 2 < n_center:
            raise ValueError(f"n_filters must be even and >= 2*n_center, got {n_filters} "
                             f"(n_center={n_center})")
        if gain not in ("rms", "analytic"):
            raise ValueError(f"gain must be 'rms' or 'analytic', got {gain!r}")
        self.order = int(order)
        self.gain = gain
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

    def reference_td_gain(self, fs: float) -> float:
        """Gain of the reference code's TD taps over ``h(t_n)/fs``: ``fs`` (no ``1/fs``)."""
        return float(fs)

    def normalize_taps(self, w: torch.Tensor) -> torch.Tensor:
        """``gain="rms"``: scale each filter's taps ``(n_filters, K)`` so that its RMS equals the
        largest RMS of the bank (reference ``normalize_filters``); ``"analytic"``: unchanged."""
        if self.gain != "rms":
            return w
        rms = w.square().mean(dim=1).sqrt()
        return w * (rms.max() / rms)[:, None]

    def _a(self) -> torch.Tensor:
        n = self.order
        c = math.pi * math.factorial(2 * n - 2) * 2.0 ** (-(2 * n - 2)) / math.factorial(n - 1) ** 2
        erb = 24.7 + self.fc / 9.265
        return 2 * math.pi * erb / c

    def _gain(self, a: torch.Tensor) -> torch.Tensor:
        if self.gain == "rms":
            return torch.ones_like(a)
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
        """Real ``h_k(t)``, zero for ``t < 0``, shape ``(n_filters, len(t))``; ``t`` in s.

        With ``gain="rms"`` this is the reference's ``compute_gammatone_impulse_response``
        (unit amplitude, s^{n-1}); with ``"analytic"`` it is in 1/s."""
        a = self._a()[:, None]
        tt = t[None, :].to(self.fc.dtype)
        tc = tt.clamp(min=0)
        h = self._gain(a) * tc ** (self.order - 1) * torch.exp(-a * tc)
        h = h * torch.cos(2 * math.pi * self.fc[:, None] * tt + self.phase[:, None])
        return torch.where(tt >= 0, h, torch.zeros_like(h))


ROUNDINGS = ("floor", "nearest", "error")


def scaled_size(size_ref: int, fs: float, fs_ref: float, rounding: str = "floor") -> int:
    """``size_ref·fs/fs_ref`` as an integer number of samples (at least 1).

    Parameters
    ----------
    size_ref : int
        Size (samples) at ``fs_ref``.
    fs, fs_ref : float
        Sampling rates (Hz).
    rounding : {"floor", "nearest", "error"}
        ``floor`` (default, reference code ``_compute_equivalent_frame_size_and_shift``):
        ``int(size_ref·(fs/fs_ref))``, truncation, with the reference's floating-point
        expression. ``nearest``: round half up (the span closest to the nominal duration).
        ``error``: raise when the product is not integral.

    Raises
    ------
    ValueError
        For a non-integral size with ``rounding="error"``, or an unknown ``rounding``.
    """
    exact = size_ref * (float(fs) / float(fs_ref))
    if rounding == "floor":
        return max(1, int(exact))
    if rounding == "error":
        if abs(exact - round(exact)) > 1e-9:
            raise ValueError(f"size {size_ref}·{fs}/{fs_ref} = {exact} samples is not an integer")
        return max(1, int(round(exact)))
    if rounding != "nearest":
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    return max(1, int(math.floor(exact + 0.5)))


GRIDS = ("centred", "integer", "causal", "causal_zero")


def tap_times(kernel_size: int, fs: float, grid: str) -> torch.Tensor:
    """Tap times (s) of a ``kernel_size``-tap filter, float64, shape ``(kernel_size,)``.

    Tap ``n`` (``n = 0 … K-1``, not time-reversed) sits at:

    ``centred``
        ``(n - (K-1)/2)/fs``: symmetric around 0, half-integer positions for an even ``K``
        (reference TD modulated Gaussian: ``t - t.mean()``).
    ``integer``
        ``(n - P + 1)/fs`` for ``K = 2P`` (positions ``-(P-1) … P``), ``(n - P)/fs`` for
        ``K = 2P+1`` (reference FD design, ``_FreqRespSampFIRs._compute_pinvW``).
    ``causal``
        ``(n+1)/fs`` for an even ``K``, ``n/fs`` for an odd ``K`` (reference multiphase
        gammatone, ``get_impulse_responses``: "even: exclude the origin").
    ``causal_zero``
        ``n/fs`` (audiopipe's earlier gammatone grid).

    Raises
    ------
    ValueError
        For an unknown ``grid``.
    """
    k = int(kernel_size)
    n = torch.arange(k, dtype=torch.float64)
    if grid == "centred":
        n = n - (k - 1) / 2
    elif grid == "integer":
        n = n - (k // 2 - 1 if k % 2 == 0 else (k - 1) // 2)
    elif grid == "causal":
        n = n + (1 if k % 2 == 0 else 0)
    elif grid != "causal_zero":
        raise ValueError(f"unknown tap grid {grid!r}: expected one of {GRIDS}")
    return n / float(fs)


def default_grid(filters: nn.Module, design: str) -> str:
    """The reference code's tap grid for a filter bank and a design (``"td"``/``"fd"``).

    Raises
    ------
    ValueError
        For an unknown ``design``.
    """
    if design not in ("td", "fd"):
        raise ValueError(f"design must be 'td' or 'fd', got {design!r}")
    if filters.support == "causal":
        return "causal"
    return "centred" if design == "td" else "integer"


def _nyquist_mask(filters: nn.Module, fs: float) -> torch.Tensor:
    return (filters.center_frequencies() <= fs / 2).to(torch.float32)[:, None]


def td_weights(filters: nn.Module, fs: float, kernel_size: int, weight_scale: str = "paper",
               nyquist_mask: bool = True, grid: str | None = None) -> torch.Tensor:
    """Time-domain design: sampled impulse responses.

    Parameters
    ----------
    filters : ModulatedGaussianFilters or MultiPhaseGammatoneFilters
    fs : float
        Sampling rate (Hz).
    kernel_size : int
        Number of taps.
    weight_scale : {"paper", "reference"}
        ``paper``: ``h(t_n)/fs`` (response ≈ ``H(ω)``). ``reference``: the reference code's taps,
        ``filters.reference_td_gain(fs)`` times larger (``2π·fs`` for the modulated Gaussian,
        ``fs`` for the gammatone; see the module docstring).
    nyquist_mask : bool
        Zero the filters whose centre frequency exceeds ``fs/2`` (the reference does it when
        ``fs`` is below the training rate; the layers decide, see ``nyquist_mask`` there).
    grid : str, optional
        Tap grid (:func:`tap_times`); default :func:`default_grid` (``td``).

    Returns
    -------
    torch.Tensor
        ``(n_filters, kernel_size)``, tap ``n`` at time ``t_n`` (not time-reversed; the reference
        returns the time-reversed kernel).

    Raises
    ------
    ValueError
        For an unknown ``weight_scale`` or ``grid``.
    """
    if weight_scale not in ("paper", "reference"):
        raise ValueError(f"weight_scale must be 'paper' or 'reference', got {weight_scale!r}")
    t = tap_times(kernel_size, fs, grid or default_grid(filters, "td")).to(torch.float32)
    w = filters.normalize_taps(filters.impulse_response(t) / float(fs))
    if weight_scale == "reference":
        w = w * filters.reference_td_gain(fs)
    if nyquist_mask:
        w = w * _nyquist_mask(filters, fs)
    return w


@lru_cache(maxsize=32)
def _fd_design_matrix(fs: float, kernel_size: int, n_freqs: int, grid: str):
    """Frequencies (rad/s) and pseudo-inverse of the real LS problem ``[cos; -sin] w = [Re H; Im H]``."""
    omega = torch.linspace(0.0, math.pi * float(fs), n_freqs, dtype=torch.float64)
    t = tap_times(kernel_size, fs, grid)
    arg = omega[:, None] * t[None, :]
    A = torch.cat([torch.cos(arg), -torch.sin(arg)], dim=0)  # (2M, K)
    return omega, torch.linalg.pinv(A).to(torch.float32)  # (K, 2M)


def fd_weights(filters: nn.Module, fs: float, kernel_size: int, n_freqs: int = 640,
               nyquist_mask: bool = False, grid: str | None = None) -> torch.Tensor:
    """Frequency-domain design: least-squares FIR fit to sampled responses.

    ``H_k`` is sampled at ``n_freqs`` equally spaced frequencies in ``[0, fs/2]`` and the real taps
    minimising ``Σ_m |Σ_n w[n] e^{-iω_m t_n} - H_k(ω_m)|²`` are found with a cached pseudo-inverse
    (reference code: ``fir_design.py``, ``_FreqRespSampFIRs``; 640 points; it computes the
    pseudo-inverse in float32, audiopipe in float64). Gammatone banks with ``gain="rms"`` are
    then RMS-normalised as in the TD design.

    Parameters
    ----------
    nyquist_mask : bool
        Zero the filters whose centre frequency exceeds ``fs/2`` (the reference FD design never
        does).
    grid : str, optional
        Tap grid (:func:`tap_times`); default :func:`default_grid` (``fd``): the reference's
        integer positions for the modulated Gaussian.

    Returns
    -------
    torch.Tensor
        ``(n_filters, kernel_size)``, tap ``n`` at time ``t_n`` (not time-reversed).
    """
    omega, pinv = _fd_design_matrix(float(fs), int(kernel_size), int(n_freqs),
                                    grid or default_grid(filters, "fd"))
    H = filters.frequency_response(omega.to(torch.float32))
    rhs = torch.cat([H.real, H.imag], dim=1).to(torch.float32)  # (n_filters, 2M)
    w = filters.normalize_taps(rhs @ pinv.T.to(rhs.device))
    if nyquist_mask:
        w = w * _nyquist_mask(filters, fs)
    return w


def digital_response(weights: torch.Tensor, fs: float, freqs_hz: torch.Tensor, grid: str) -> torch.Tensor:
    """Frequency response ``Σ_n w[n] e^{-i 2π f t_n}`` of generated taps at analog frequencies.

    Parameters
    ----------
    weights : torch.Tensor
        ``(n_filters, kernel_size)`` as returned by :func:`td_weights` / :func:`fd_weights`.
    fs : float
        Rate the taps were generated for (Hz).
    freqs_hz : torch.Tensor
        Frequencies (Hz), shape ``(F,)``.
    grid : str
        The tap grid the weights were generated on (:func:`tap_times`, :func:`default_grid`,
        ``layer.grid``).

    Returns
    -------
    torch.Tensor
        Complex ``(n_filters, F)``.
    """
    t = tap_times(weights.shape[-1], fs, grid)
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


NYQUIST_MASKS = ("reference", "always", "never")


class _SFIConvBase(nn.Module):
    """Shared weight generation of :class:`SFIEncoder` and :class:`SFIDecoder`.

    Parameters (beyond the encoder's)
    ---------------------------------
    rounding : {"floor", "nearest", "error"}
        Kernel/stride scaling (:func:`scaled_size`); ``floor`` = reference.
    tap_grid : str, optional
        Override of the tap grid (:func:`tap_times`); None = the reference's grid for the filter
        bank and design (:func:`default_grid`).
    nyquist_mask : {"reference", "always", "never"} or bool
        ``reference``: TD filters above ``fs/2`` are zeroed when ``fs < fs_ref`` (the training
        rate), FD filters never; ``always``: both designs, every rate; ``never``. ``True`` and
        ``False`` mean ``always`` and ``never``.
    decoder_gain : {"stride", "none"}
        Decoder only: multiply the taps by the stride (rate-independent output level, module
        docstring) or not (reference).
    decoder_taps : {"reversed", "forward"}
        Decoder only: transposed convolution with the time-reversed taps, i.e. synthesis with
        ``h(-t)`` (reference), or with the taps in time order, ``h(t)``.
    """

    def __init__(self, n_filters: int, kernel_size: int = 160, stride: int = 80,
                 fs_ref: float = 32000.0, filters: str = "mgf", filter_params: dict | None = None,
                 design: str = "fd", n_freqs: int = 640, weight_scale: str = "paper",
                 nyquist_mask: str | bool = "reference", rounding: str = "floor",
                 tap_grid: str | None = None, decoder_gain: str = "stride",
                 decoder_taps: str = "reversed") -> None:
        super().__init__()
        if design not in ("td", "fd"):
            raise ValueError(f"design must be 'td' or 'fd', got {design!r}")
        if design == "fd" and weight_scale != "paper":
            raise ValueError("weight_scale='reference' only applies to the TD design")
        if isinstance(nyquist_mask, bool):
            nyquist_mask = "always" if nyquist_mask else "never"
        if nyquist_mask not in NYQUIST_MASKS:
            raise ValueError(f"nyquist_mask must be one of {NYQUIST_MASKS}, got {nyquist_mask!r}")
        if rounding not in ROUNDINGS:
            raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
        if tap_grid is not None and tap_grid not in GRIDS:
            raise ValueError(f"tap_grid must be None or one of {GRIDS}, got {tap_grid!r}")
        if decoder_gain not in ("stride", "none"):
            raise ValueError(f"decoder_gain must be 'stride' or 'none', got {decoder_gain!r}")
        if decoder_taps not in ("reversed", "forward"):
            raise ValueError(f"decoder_taps must be 'reversed' or 'forward', got {decoder_taps!r}")
        self.filters = make_filters(filters, n_filters, filter_params)
        self.kernel_size_ref, self.stride_ref, self.fs_ref = int(kernel_size), int(stride), float(fs_ref)
        self.design, self.n_freqs, self.weight_scale = design, int(n_freqs), weight_scale
        self.nyquist_mask, self.rounding = nyquist_mask, rounding
        self.tap_grid, self.decoder_gain, self.decoder_taps = tap_grid, decoder_gain, decoder_taps

    @property
    def grid(self) -> str:
        """The tap grid of the generated weights (for :func:`digital_response`)."""
        return self.tap_grid or default_grid(self.filters, self.design)

    def sizes(self, fs: float) -> tuple[int, int]:
        """Kernel size and stride (samples) at rate ``fs`` (Hz)."""
        return (scaled_size(self.kernel_size_ref, fs, self.fs_ref, self.rounding),
                scaled_size(self.stride_ref, fs, self.fs_ref, self.rounding))

    def _mask(self, fs: float) -> bool:
        if self.nyquist_mask == "reference":
            return self.design == "td" and float(fs) < self.fs_ref
        return self.nyquist_mask == "always"

    def weights(self, fs: float) -> torch.Tensor:
        """Generated taps ``(n_filters, kernel_size(fs))`` (tap ``n`` at time ``t_n``)."""
        k, _ = self.sizes(fs)
        if self.design == "td":
            return td_weights(self.filters, fs, k, self.weight_scale, self._mask(fs), self.grid)
        return fd_weights(self.filters, fs, k, self.n_freqs, self._mask(fs), self.grid)


class SFIEncoder(_SFIConvBase):
    """SFI analysis convolution ``(batch, 1, samples) → (batch, N, frames)`` at any rate.

    Frame ``m`` covers samples ``[m·S, m·S + K)`` (no padding; the caller pads — the reference
    layer pads ``(K - S)//2`` on both sides). Parameters are those of the paper's encoder:
    ``kernel_size`` L and ``stride`` at ``fs_ref``; ``filters`` ``mgf``/``mpgtf``; ``design``
    ``td``/``fd``; see :class:`_SFIConvBase` and the module docstring for the rest.
    """

    def forward(self, x: torch.Tensor, fs: float) -> torch.Tensor:
        _, s = self.sizes(fs)
        w = self.weights(fs).flip(-1)  # conv1d correlates: flip to convolve
        return F.conv1d(x, w[:, None, :].to(x.dtype), stride=s)


class SFIDecoder(_SFIConvBase):
    """SFI synthesis (transposed) convolution ``(batch, N, frames) → (batch, 1, samples)``.

    With ``decoder_taps="reversed"`` (default, reference) each frame overlap-adds the
    time-reversed taps (synthesis with ``h(-t)``, the transpose of the encoder's convolution);
    with ``decoder_gain="stride"`` (default) the taps are multiplied by the stride ``S`` so that
    the output level does not depend on ``fs`` (module docstring); ``"none"`` is the reference.
    Output length ``(frames-1)·S + K`` (no cropping; the reference crops ``(K - S)//2`` at both
    ends).
    """

    def forward(self, z: torch.Tensor, fs: float) -> torch.Tensor:
        _, s = self.sizes(fs)
        w = self.weights(fs)
        if self.decoder_taps == "reversed":
            w = w.flip(-1)
        if self.decoder_gain == "stride":
            w = w * float(s)
        return F.conv_transpose1d(z, w[:, None, :].to(z.dtype), stride=s)
