"""Room-acoustic labels measured from RIRs, with SAR-SSL's definitions.

Source: SAR-SSL reference code (Audio-WestlakeU/SAR-SSL):

* ``code_v1/dataset.py`` (``AcousticScene.simulate``): TDOA from the geometry
  (``(|s - m_2| - |s - m_1|) / c``), DRR with a +-2.5 ms direct-path window around the peak of
  the direct-path RIR, C50 with everything up to 50 ms after that peak as early energy, all on
  the reference (first) channel; ``ABS = 0.161 V / (T60 S)`` with ``S = 2 (LxLy + LyLz + LxLz)``.
* ``code_v1/common/utils_room_acoustics.py`` (``cal_edc``, ``cal_rt60``, ``rt60_from_rirs``):
  T60 from the Schroeder energy decay curve by the best of several line fits;
  ``dpRIR_from_RIR``: the direct path of a measured RIR (which has no separate direct-path RIR)
  is the window of +-2.5 ms around the *signed* maximum ``argmax h`` (see
  :func:`direct_path_index`).

The values are checked against the reference code on measured RIRs in
``tests/fidelity/test_sar_ssl.py`` (``docs/fidelity.md``).

Units are in the function names or docstrings: s, samples, dB.
"""

from __future__ import annotations

import numpy as np

from audiopipe.acoustics.rooms import SABINE_CONSTANT

#: EDC start levels (dB) of SAR-SSL's line fits: range(-5, -20, -2)
EDC_STARTS_DB = tuple(range(-5, -20, -2))
#: EDC fit spans (dB, negative) of SAR-SSL's line fits: range(-10, -30, -2)
EDC_SPANS_DB = tuple(range(-10, -30, -2))


def tdoa(mic_pos, src_pos, sound_speed: float = 343.0, fs: float | None = None):
    """Time difference of arrival of microphone 2 relative to microphone 1.

    ``TDOA = (|s - m_2| - |s - m_1|) / c`` (SAR-SSL ``AcousticScene.simulate``): positive when
    the sound reaches microphone 1 first.

    Parameters
    ----------
    mic_pos : array-like, shape (2, 3)
        Microphone positions in m.
    src_pos : array-like, shape (3,)
        Source position in m.
    sound_speed : float
        Speed of sound in m/s.
    fs : float, optional
        Sampling rate in Hz; when given, the TDOA in samples is returned too.

    Returns
    -------
    float or (float, float)
        TDOA in s, and ``TDOA * fs`` in (fractional) samples when ``fs`` is given.
    """
    mic_pos = np.asarray(mic_pos, float)
    if mic_pos.shape != (2, 3):
        raise ValueError(f"mic_pos must have shape (2, 3), got {mic_pos.shape}")
    d = np.linalg.norm(mic_pos - np.asarray(src_pos, float)[None, :], axis=1)
    t = float((d[1] - d[0]) / sound_speed)
    return (t, t * fs) if fs is not None else t


def _as_1d(rir, name="rir") -> np.ndarray:
    x = np.asarray(rir, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (one channel), got shape {x.shape}")
    return x


#: How the direct-path sample of an RIR without a separate direct-path RIR is found.
DIRECT_PATH_METHODS = ("signed", "abs")


def direct_path_index(rir, dp_rir=None, direct_path: str = "signed") -> int:
    """Sample index of the direct path of one RIR channel.

    With a direct-path RIR ``dp_rir`` (simulated RIRs), the index is ``argmax dp_rir`` (SAR-SSL
    ``AcousticScene.simulate``: ``np.argmax(dp_RIRs)``). Without one (measured RIRs) it is found
    on the RIR itself:

    * ``direct_path="signed"`` (default): ``argmax h``, the largest *positive* sample, as SAR-SSL's
      ``dpRIR_from_RIR`` (``code_v1/common/utils_room_acoustics.py``), which every measured-RIR
      set of the reference code uses. The paper does not say how the direct path of a measured
      RIR is located, so the reference code is followed.
    * ``direct_path="abs"``: ``argmax |h|``, the largest magnitude. It differs from ``"signed"``
      whenever the largest excursion is negative, which is common in measured RIRs (a capsule or
      loudspeaker of inverted polarity, or the negative lobe of a band-limited pulse): on the
      dEchorate fixture (48 kHz) 3 of 12 capsules peak at -1, their signed maximum lies
      0.25-0.46 ms after that negative peak (on the positive lobe that follows it), and DRR
      moves by up to 0.26 dB, C50 by 0.03 dB at 16 kHz; on the second channel of the
      audiomentations stereo IR ``|h|`` peaks on a negative reflection 19 ms after the direct
      path and DRR and C50 move by 1.8 dB. The docstring used to claim that the two coincide for
      a clean measurement; they do not. ``"abs"`` is kept as an option because it is the usual
      peak picker outside SAR-SSL and lands on the arrival itself for inverted-polarity
      channels.

    Parameters
    ----------
    rir : array-like, shape (samples,)
        One RIR channel (only used when ``dp_rir`` is None).
    dp_rir : array-like, shape (samples',), optional
        Direct-path RIR on the same time axis.
    direct_path : {"signed", "abs"}
        Peak picker for ``rir`` when ``dp_rir`` is None.

    Returns
    -------
    int
        Sample index.

    Raises
    ------
    ValueError
        Unknown ``direct_path``, or an empty / multi-channel input.
    """
    if dp_rir is not None:
        return int(np.argmax(_as_1d(dp_rir, "dp_rir")))
    h = _as_1d(rir)
    if direct_path == "signed":
        return int(np.argmax(h))
    if direct_path == "abs":
        return int(np.argmax(np.abs(h)))
    raise ValueError(f"direct_path must be one of {DIRECT_PATH_METHODS}, got {direct_path!r}")


def drr_db(rir, fs: float, direct_index: int | None = None, window_ms: float = 2.5, eps: float = 1e-8,
           direct_path: str = "signed") -> float:
    """Direct-to-reverberant ratio in dB.

    ``DRR = 10 log10( sum_{|n - n_d| <= n_0} h[n]^2 / sum_{|n - n_d| > n_0} h[n]^2 )`` with
    ``n_0 = int(fs * window_ms / 1000)`` (2.5 ms in SAR-SSL) and ``n_d`` the direct-path peak.

    Parameters
    ----------
    rir : array-like, shape (samples,)
        One RIR channel.
    fs : float
        Sampling rate in Hz.
    direct_index : int, optional
        Direct-path sample ``n_d`` (default: :func:`direct_path_index` of ``rir`` with
        ``direct_path``; pass the argmax of a direct-path RIR when there is one).
    window_ms : float
        Half-width of the direct-path window in ms.
    eps : float
        Regulariser of the ratio and the logarithm (1e-8: the ``eps`` of SAR-SSL's
        ``AcousticScene.simulate``).
    direct_path : {"signed", "abs"}
        Peak picker when ``direct_index`` is None (see :func:`direct_path_index`).

    Returns
    -------
    float
        DRR in dB.
    """
    h = _as_1d(rir)
    nd = direct_path_index(h, direct_path=direct_path) if direct_index is None else int(direct_index)
    n0 = int(fs * window_ms / 1000)
    n = np.arange(h.size)
    direct = np.abs(n - nd) <= n0
    return float(10 * np.log10(np.sum(h[direct] ** 2) / (np.sum(h[~direct] ** 2) + eps) + eps))


def c50_db(rir, fs: float, direct_index: int | None = None, early_ms: float = 50.0, eps: float = 1e-8,
           direct_path: str = "signed") -> float:
    """Clarity index C50 in dB: energy up to 50 ms after the direct path over the rest.

    ``C50 = 10 log10( sum_{n <= n_d + n_50} h[n]^2 / sum_{n > n_d + n_50} h[n]^2 )``,
    ``n_50 = int(fs * 0.05)`` (SAR-SSL ``AcousticScene.simulate``).

    Parameters
    ----------
    rir : array-like, shape (samples,)
    fs : float
        Sampling rate in Hz.
    direct_index : int, optional
        Direct-path sample (default: :func:`direct_path_index` of ``rir`` with ``direct_path``).
    early_ms : float
        Early-energy limit after the direct path in ms (50 for C50, 80 for C80).
    eps : float
        Regulariser of the ratio and the logarithm (1e-8, as SAR-SSL's ``AcousticScene.simulate``).
    direct_path : {"signed", "abs"}
        Peak picker when ``direct_index`` is None (see :func:`direct_path_index`).

    Returns
    -------
    float
        C50 in dB.
    """
    h = _as_1d(rir)
    nd = direct_path_index(h, direct_path=direct_path) if direct_index is None else int(direct_index)
    cut = nd + int(fs * early_ms / 1000)
    e = h ** 2
    return float(10 * np.log10(np.sum(e[:cut + 1]) / (np.sum(e[cut + 1:]) + eps) + eps))


def schroeder_edc_db(rir, eps: float = 1e-10) -> np.ndarray:
    """Schroeder energy decay curve in dB, normalised by the energy from the RIR's peak on.

    ``EDC[n] = 10 log10( sum_{k >= n} h[k]^2 / sum_{k >= argmax h} h[k]^2 + eps )``
    (SAR-SSL ``cal_edc``; it takes ``argmax`` of the signed RIR, kept here).

    Returns
    -------
    numpy.ndarray, shape (samples,)
        EDC in dB (0 dB at the peak, about 0 dB before it).
    """
    h = _as_1d(rir)
    tail = np.cumsum(h[::-1] ** 2)[::-1]
    ref = np.sum(h[int(np.argmax(h)):] ** 2)
    return 10.0 * np.log10(tail / (ref + eps) + eps)


def _nearest_index(y: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Index of the sample of ``y`` nearest to each level, first one on ties (as ``np.argmin``).

    Uses binary search when ``y`` is non-increasing (an EDC), a full scan otherwise.
    """
    if y.size < 2 or np.any(np.diff(y) > 0):
        return np.abs(y[None, :] - levels[:, None]).argmin(axis=1)
    neg = -y
    hi = np.clip(np.searchsorted(neg, -levels, side="left"), 0, y.size - 1)  # first y <= level
    lo = np.clip(hi - 1, 0, y.size - 1)
    pick = np.where(np.abs(y[lo] - levels) <= np.abs(y[hi] - levels), lo, hi)
    return np.searchsorted(neg, -y[pick], side="left")  # first occurrence of that value


def t60_from_edc(edc_db, fs: float, starts_db=EDC_STARTS_DB, spans_db=EDC_SPANS_DB) -> tuple[float, float]:
    """T60 in s from an EDC by SAR-SSL's best-of-line-fits procedure (``cal_rt60``).

    For every start level ``s`` in ``starts_db`` and span ``d`` in ``spans_db`` the EDC samples
    from the point nearest to ``s`` dB to the point nearest to ``s + d`` dB are fitted with a
    least-squares line ``EDC(t) = a t + b``; ``T60 = -60 / a`` of the fit with the largest
    correlation ``|r|`` is returned. Fits over fewer than 2 samples are skipped. The sums of the
    regressions come from prefix sums, so all 80 fits cost O(samples).

    Parameters
    ----------
    edc_db : array-like, shape (samples,)
        Energy decay curve in dB (:func:`schroeder_edc_db`).
    fs : float
        Sampling rate in Hz.
    starts_db, spans_db : sequence of float
        Start levels and (negative) spans in dB.

    Returns
    -------
    t60 : float
        Reverberation time in s (NaN when no fit is possible).
    r : float
        Correlation coefficient of the chosen fit.
    """
    y = _as_1d(edc_db, "edc_db")
    n = y.size
    t = np.arange(n) / fs
    starts = np.asarray(starts_db, float)
    ends = (starts[:, None] + np.asarray(spans_db, float)[None, :]).ravel()
    levels = np.concatenate([starts, ends])
    near = _nearest_index(y, levels)
    i0 = np.repeat(near[: starts.size], len(spans_db))
    i1 = near[starts.size:]
    a, b = np.minimum(i0, i1), np.maximum(i0, i1)  # SAR-SSL slices [start:end) in decay order
    k = (b - a).astype(float)

    def cs(v):
        return np.concatenate([[0.0], np.cumsum(v)])

    st, sy, stt, syy, sty = cs(t), cs(y), cs(t * t), cs(y * y), cs(t * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        mt, my = (st[b] - st[a]) / k, (sy[b] - sy[a]) / k
        vtt = (stt[b] - stt[a]) / k - mt * mt
        vyy = (syy[b] - syy[a]) / k - my * my
        vty = (sty[b] - sty[a]) / k - mt * my
        slope = vty / vtt
        r = vty / np.sqrt(vtt * vyy)
    valid = (k >= 2) & (vtt > 0) & (vyy > 0) & (slope < 0)
    if not np.any(valid):
        return float("nan"), 0.0
    score = np.where(valid, np.abs(r), -1.0)
    j = int(np.argmax(score))  # first best, as SAR-SSL's argmax over the fit list
    best_t60, best_r = float(-60.0 / slope[j]), float(r[j])
    return best_t60, best_r


def t60_edc(rir, fs: float, **kwargs) -> tuple[float, float]:
    """T60 in s and fit correlation from one RIR channel (SAR-SSL ``rt60_from_rirs``)."""
    return t60_from_edc(schroeder_edc_db(rir), fs, **kwargs)


def absorption_sabine(dims, t60: float, surface: str = "total") -> float:
    """Mean absorption coefficient from Sabine's formula, ``0.161 V / (T60 S)``.

    Surface convention: ``surface="total"`` (default) uses the whole wall area
    ``S = 2 (LxLy + LyLz + LxLz)`` m^2, which makes the result the area-weighted mean energy
    absorption coefficient (SAR-SSL ``code_v1/dataset.py`` label ``ABS``).
    ``surface="half"`` uses ``LxLy + LyLz + LxLz``, giving twice that value, as one of
    SAR-SSL's code trees does.

    Parameters
    ----------
    dims : array-like, shape (3,)
        Room size in m.
    t60 : float
        Reverberation time in s.
    surface : {"total", "half"}

    Returns
    -------
    float
        Dimensionless absorption coefficient.
    """
    lx, ly, lz = (float(v) for v in dims)
    half = lx * ly + ly * lz + lx * lz
    if surface == "total":
        s = 2 * half
    elif surface == "half":
        s = half
    else:
        raise ValueError(f"surface must be 'total' or 'half', got {surface!r}")
    if t60 <= 0:
        raise ValueError(f"t60 must be > 0 s, got {t60}")
    return SABINE_CONSTANT * lx * ly * lz / (t60 * s)


def rir_labels(rir, dp_rir, fs: float, *, mic_pos, src_pos, dims, sound_speed: float = 343.0,
               drr_window_ms: float = 2.5, early_ms: float = 50.0, absorption_surface: str = "total",
               t60_channels: str = "mean") -> dict:
    """All SAR-SSL labels of one two-microphone RIR.

    DRR and C50 use the reference (first) channel and the argmax of its direct-path RIR, as
    SAR-SSL does; the T60 is the mean over channels of :func:`t60_edc` (SAR-SSL
    ``getRandomScene``); the absorption uses that measured T60.

    Parameters
    ----------
    rir : numpy.ndarray, shape (2, samples)
    dp_rir : numpy.ndarray, shape (2, samples')
        Direct-path RIR aligned with ``rir`` (same time origin).
    fs : float
        Sampling rate in Hz.
    mic_pos, src_pos, dims : array-like
        Geometry in m (for the TDOA and the absorption).
    t60_channels : {"mean", "first"}

    Returns
    -------
    dict
        ``tdoa_s``, ``tdoa_samples``, ``drr_db``, ``c50_db``, ``t60_s``, ``t60_fit_r``,
        ``absorption``.
    """
    rir = np.asarray(rir)
    tdoa_s, tdoa_n = tdoa(mic_pos, src_pos, sound_speed, fs)
    nd = direct_path_index(rir[0], dp_rir[0])
    t60s, rs = zip(*(t60_edc(ch, fs) for ch in (rir if t60_channels == "mean" else rir[:1])))
    t60 = float(np.mean(t60s))
    return {
        "tdoa_s": tdoa_s,
        "tdoa_samples": tdoa_n,
        "drr_db": drr_db(rir[0], fs, nd, drr_window_ms),
        "c50_db": c50_db(rir[0], fs, nd, early_ms),
        "t60_s": t60,
        "t60_fit_r": float(np.mean(rs)),
        "absorption": absorption_sabine(dims, t60, absorption_surface) if np.isfinite(t60) and t60 > 0 else float("nan"),
    }
