"""Real recordings used to build the corpus layouts in the corpus-adapter tests.

The corpora themselves (WSJ0, MeshRIR, MIRD, ACE, BUT ReverbDB, TAU-SRIR, LOCATA) are not
public, so each test builds a small tree in the corpus' exact on-disk layout from the real
recordings in ``shared/fixtures``: the 12 measured dEchorate RIRs
(``rir/dechorate/dechorate_room011111_src1_12mics_rirs.mat``), the audiomentations demo IRs
(``rir/audiomentations_demo_ir/*.wav``) and real speech (``speech/cmu_arctic``,
``speech/pyannote_sample``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import scipy.signal
import soundfile as sf

DECHORATE_MAT = "rir/dechorate/dechorate_room011111_src1_12mics_rirs.mat"


def dechorate(fixtures: Path) -> dict:
    """The 12 measured dEchorate RIRs: ``rir`` (12, samples) at ``fs`` 48 kHz, ``mics`` (12, 3) m,
    ``src`` (3,) m, ``t_direct`` (12,) s."""
    m = scipy.io.loadmat(str(fixtures / DECHORATE_MAT))
    return {
        "rir": np.ascontiguousarray(m["rirs"][:, :, 0].T),
        "fs": int(m["fs"].squeeze()),
        "mics": m["mics"].T.copy(),
        "src": m["src"][:, 0].copy(),
        "t_direct": m["T_direct"][0].copy(),
    }


def dechorate_at(fixtures: Path, fs: int, length_s: float) -> np.ndarray:
    """The 12 dEchorate RIRs resampled to ``fs`` Hz and cut to ``length_s`` s: (12, samples)."""
    d = dechorate(fixtures)
    g = np.gcd(fs, d["fs"])
    x = scipy.signal.resample_poly(d["rir"], fs // g, d["fs"] // g, axis=1)
    return x[:, : int(round(length_s * fs))]


def audiomentations_ir(fixtures: Path, name: str = "impulse_response_0.wav") -> tuple[np.ndarray, int]:
    """One audiomentations demo IR as (channels, samples) float64 and its rate (Hz)."""
    x, fs = sf.read(str(fixtures / "rir/audiomentations_demo_ir" / name), always_2d=True)
    return x.T, fs


def speech(fixtures: Path) -> list[tuple[str, np.ndarray, int]]:
    """Real 16 kHz mono speech: two CMU ARCTIC utterances and two 3-s excerpts of the pyannote
    sample, as ``(name, samples, fs)``."""
    out = []
    for p in sorted((fixtures / "speech/cmu_arctic").glob("*.wav")):
        x, fs = sf.read(str(p))
        out.append((p.stem, x, fs))
    x, fs = sf.read(str(fixtures / "speech/pyannote_sample/sample.wav"))
    out.append(("pyannote_a", x[: 3 * fs], fs))
    out.append(("pyannote_b", x[10 * fs : 13 * fs], fs))
    return out


def write_wav(path: Path, x: np.ndarray, fs: int, subtype: str = "FLOAT") -> Path:
    """Write ``x`` (channels, samples) or (samples,) as WAV, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.T if x.ndim == 2 else x, fs, subtype=subtype)
    return path
