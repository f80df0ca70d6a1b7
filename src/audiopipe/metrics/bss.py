"""BSSEval v4 (museval) SDR for music source separation, usable without ffmpeg.

``import museval`` (and therefore ``import museval.metrics``, which runs the package's
``__init__``) imports ``musdb`` → ``stempeg``, and stempeg raises ``RuntimeError`` at import when
ffmpeg/ffprobe is not installed. The metric itself, ``museval/metrics.py``, needs only numpy and
scipy. We therefore **isolate the import**: the file ``museval/metrics.py`` is located with
``importlib.util.find_spec("museval")`` (which does not execute the package) and loaded on first
use as a stand-alone module ``audiopipe._museval_metrics``; ``museval``, ``musdb`` and ``stempeg``
are never imported. ffmpeg is not needed.

Definition (SiSEC 2018 / museval ``evaluate`` with ``mode="v4"``): ``bss_eval`` on
``(sources, samples, channels)`` arrays with time-invariant 512-tap distortion filters
(``framewise_filters=False``), 1-s windows and 1-s hops, no permutation; a track's score per
source is the median over its 1-s frames (frames where the reference is silent give NaN and are
ignored, as in museval's aggregation).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import numpy as np

_MODULE_NAME = "audiopipe._museval_metrics"


def museval_metrics() -> ModuleType:
    """Return museval's ``metrics`` module, loaded from its file without importing ``museval``.

    Raises
    ------
    ImportError
        If museval is not installed.
    """
    mod = sys.modules.get(_MODULE_NAME)
    if mod is not None:
        return mod
    spec = importlib.util.find_spec("museval")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("museval is not installed (pip install museval)")
    path = f"{list(spec.submodule_search_locations)[0]}/metrics.py"
    mspec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    mod = importlib.util.module_from_spec(mspec)
    sys.modules[_MODULE_NAME] = mod
    try:
        mspec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[_MODULE_NAME]
        raise
    return mod


def bss_eval_v4(references: np.ndarray, estimates: np.ndarray, sampling_rate: int,
                window_s: float = 1.0, hop_s: float = 1.0) -> dict[str, np.ndarray]:
    """Framewise BSSEval v4 image metrics (museval ``evaluate``, mode ``v4``).

    Parameters
    ----------
    references, estimates : np.ndarray
        ``(sources, channels, samples)``; estimates are zero-padded or cut to the references'
        length (as museval's ``pad_or_truncate``).
    sampling_rate : int
        Rate (Hz), sets the window and hop lengths in samples.
    window_s, hop_s : float
        Frame length and hop (s).

    Returns
    -------
    dict
        ``SDR``, ``ISR``, ``SIR``, ``SAR``: arrays ``(sources, frames)`` in dB (NaN for frames
        whose reference is silent).

    Raises
    ------
    ValueError
        If the shapes disagree in sources or channels, or the signals are shorter than one
        sample.
    """
    ref = np.asarray(references, dtype=np.float64)
    est = np.asarray(estimates, dtype=np.float64)
    if ref.ndim != 3 or est.ndim != 3 or ref.shape[:2] != est.shape[:2]:
        raise ValueError(f"bss_eval_v4: expected (sources, channels, samples) of equal sources and "
                         f"channels, got {ref.shape} and {est.shape}")
    n = ref.shape[-1]
    if n < 1:
        raise ValueError("bss_eval_v4: empty signals")
    est = est[..., :n] if est.shape[-1] >= n else np.pad(est, ((0, 0), (0, 0), (0, n - est.shape[-1])))
    win = int(round(window_s * sampling_rate))
    hop = int(round(hop_s * sampling_rate))
    m = museval_metrics()
    sdr, isr, sir, sar, _ = m.bss_eval(
        ref.transpose(0, 2, 1), est.transpose(0, 2, 1), compute_permutation=False, window=win,
        hop=hop, framewise_filters=False, bsseval_sources_version=False)
    return {"SDR": sdr, "ISR": isr, "SIR": sir, "SAR": sar}


def track_sdr(references: np.ndarray, estimates: np.ndarray, sampling_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-source track SDR: median over 1-s frames of BSSEval v4 SDR (SiSEC 2018 convention).

    Returns
    -------
    median : np.ndarray
        ``(sources,)`` dB (NaN if every frame of a source is silent).
    frames : np.ndarray
        ``(sources, frames)`` dB.
    """
    frames = bss_eval_v4(references, estimates, sampling_rate)["SDR"]
    with np.errstate(all="ignore"):
        med = np.array([np.nanmedian(f) if np.isfinite(f).any() else np.nan for f in frames])
    return med, frames
