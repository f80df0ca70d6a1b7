"""Log-Mel targets of the pretrained classifiers (PANN, YAMNet), in torch, without librosa.

Two front ends are reproduced as the Spectral Transcoder's reference code computes them
(``modantailleur/paperSpectralTranscoder`` ``utils/bands_transform.py``):

* **PANN** (Kong et al., 2020; ``qiuqiangkong/audioset_tagging_cnn`` through ``torchlibrosa``,
  ``PANNMelsTransform``): 32 kHz, periodic Hann window of 1024 samples, hop 320, centred frames
  with reflect padding, power spectrogram, 64 Slaney-style Mel bands (area-normalised,
  50-14000 Hz, as ``librosa.filters.mel`` defaults), ``10 log10(max(mel, 1e-10))`` dB.
* **YAMNet** (``YamNetMelsTransform``: the PyTorch port ``w-hc/torch_audioset``,
  ``yamnet/yamnet_torch_input_processing.py`` ``VGGishLogMelSpectrogram``, a
  ``torchaudio.transforms.MelSpectrogram``): 16 kHz, periodic Hann window of 400 samples centred
  in a 512-point FFT frame, hop 160, **centred frames with reflect padding** (101 frames per
  second, the first 96 kept), *magnitude* spectrogram (``power ** 0.5``), 64 HTK-Mel triangles
  built in Hz between HTK-Mel-spaced edges (``torchaudio.functional.melscale_fbanks``,
  125-7500 Hz, no normalisation), ``log(mel + 0.001)``. This is what the transcoder's YAMNet was
  fed in the paper's experiments. :data:`YAMNET_TF` keeps the original TensorFlow YAMNet front end
  (``tensorflow/models`` ``research/audioset/yamnet/features.py``: frames not centred, triangles
  in the Mel domain as ``tf.signal.linear_to_mel_weight_matrix``) for comparison with the
  TensorFlow model: its frame k starts 200 samples (1.25 hops) later, which moves the log-Mel of
  the TAU fixture clip by 0.41 log units on average at equal frame index, while the two
  filterbanks alone change it by at most 0.01 log units.

The filterbanks are written here from their published formulas (Slaney's Auditory Toolbox
Mel scale; HTK ``1127 ln(1 + f / 700)``) so that the runtime needs no librosa or torchaudio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import resample_poly


@dataclass(frozen=True)
class MelConfig:
    """Parameters of one classifier's log-Mel front end (rates in Hz, sizes in samples)."""

    name: str
    sampling_rate: int
    n_fft: int
    win_length: int
    hop: int
    n_mels: int
    fmin: float
    fmax: float
    scale: str  # "slaney" (area-normalised), "htk" (torchaudio) or "htk_tf" (TensorFlow)
    center: bool  # centred frames, reflect padding (torch.stft); False: TensorFlow framing
    magnitude: bool  # True: |X| (YAMNet), False: |X|^2 (PANN)
    log: str  # "db" (10 log10, floor 1e-10) or "ln_offset" (ln(x + 0.001))
    frames: int  # frames per 1-s clip fed to the classifier


PANN = MelConfig("PANN", 32000, 1024, 1024, 320, 64, 50.0, 14000.0, "slaney", True, False, "db", 101)
#: YAMNet as the transcoder's reference code computes it (torch port, torchaudio MelSpectrogram)
YAMNET = MelConfig("YAMNet", 16000, 512, 400, 160, 64, 125.0, 7500.0, "htk", True, True, "ln_offset", 96)
#: YAMNet's original TensorFlow front end (frames not centred, TF Mel matrix), for comparison
YAMNET_TF = MelConfig("YAMNet_tf", 16000, 512, 400, 160, 64, 125.0, 7500.0, "htk_tf", False, True,
                      "ln_offset", 96)
#: log-Mel of the STRF speech-activity task (16 kHz, 64 Mel, 25-ms window, 10-ms hop)
SAD = MelConfig("SAD", 16000, 512, 400, 160, 64, 0.0, 8000.0, "slaney", True, False, "db", 0)
CONFIGS = {"PANN": PANN, "YAMNet": YAMNET, "YAMNet_tf": YAMNET_TF, "SAD": SAD}


def get_config(name: str) -> MelConfig:
    """Return the Mel configuration ``"PANN"``, ``"YAMNet"``, ``"YAMNet_tf"`` or ``"SAD"``.

    Raises
    ------
    KeyError
        For any other name.
    """
    if name not in CONFIGS:
        raise KeyError(f"unknown classifier Mel front end {name!r}; choose from {sorted(CONFIGS)}")
    return CONFIGS[name]


def hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    """Slaney (Auditory Toolbox) Mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    logstep = math.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / logstep, f / f_sp)


def mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel_slaney`."""
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    logstep = math.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), f_sp * m)


def hz_to_mel_htk(f: np.ndarray) -> np.ndarray:
    """HTK Mel scale ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz_htk(m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`hz_to_mel_htk`."""
    return 700.0 * np.expm1(np.asarray(m, dtype=np.float64) / 1127.0)


def mel_filterbank(sampling_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float,
                   scale: str = "slaney") -> np.ndarray:
    """Triangular Mel filterbank ``(n_mels, n_fft // 2 + 1)``.

    Parameters
    ----------
    scale : str
        ``"slaney"``: triangles in Hz between Slaney-Mel-spaced edges, each scaled by
        ``2 / (f_high - f_low)`` (``librosa.filters.mel`` defaults). ``"htk"``: triangles in Hz
        between HTK-Mel-spaced edges, unnormalised (``torchaudio.functional.melscale_fbanks``
        defaults, the YAMNet port of the transcoder's reference code). ``"htk_tf"``: triangles in
        the HTK-Mel domain over the bins 1..N (DC weight 0), unnormalised (TensorFlow's
        ``linear_to_mel_weight_matrix``, used by the original YAMNet).

    Raises
    ------
    ValueError
        If ``fmax`` exceeds the Nyquist frequency, ``fmin >= fmax``, or ``scale`` is unknown.
    """
    if not 0 <= fmin < fmax <= sampling_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= {sampling_rate / 2} Hz, got fmin={fmin}, fmax={fmax}")
    n_bins = n_fft // 2 + 1
    freqs = np.linspace(0.0, sampling_rate / 2, n_bins)
    if scale == "slaney":
        edges = mel_to_hz_slaney(np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2))
        fdiff = np.diff(edges)
        ramps = edges[:, None] - freqs[None, :]
        lower = -ramps[:-2] / fdiff[:-1, None]
        upper = ramps[2:] / fdiff[1:, None]
        w = np.maximum(0.0, np.minimum(lower, upper))
        return w * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    if scale == "htk":
        edges = mel_to_hz_htk(np.linspace(hz_to_mel_htk(fmin), hz_to_mel_htk(fmax), n_mels + 2))
        fdiff = np.diff(edges)
        ramps = edges[:, None] - freqs[None, :]
        return np.maximum(0.0, np.minimum(-ramps[:-2] / fdiff[:-1, None], ramps[2:] / fdiff[1:, None]))
    if scale == "htk_tf":
        bins_mel = hz_to_mel_htk(freqs)
        edges = np.linspace(hz_to_mel_htk(fmin), hz_to_mel_htk(fmax), n_mels + 2)
        lower = (bins_mel[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
        upper = (edges[2:, None] - bins_mel[None, :]) / (edges[2:] - edges[1:-1])[:, None]
        w = np.maximum(0.0, np.minimum(lower, upper))
        w[:, 0] = 0.0
        return w
    raise ValueError(f"scale must be 'slaney', 'htk' or 'htk_tf', got {scale!r}")


def _periodic_hann(n: int) -> torch.Tensor:
    return torch.hann_window(n, periodic=True, dtype=torch.float64)


def spectrogram(x: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Power (PANN) or magnitude (YAMNet) spectrogram ``(..., n_fft // 2 + 1, frames)``.

    ``cfg.center``: frames as :func:`torch.stft` (``center=True``, reflect padding of
    ``n_fft // 2``) forms them, the ``win_length`` window centred in each ``n_fft`` frame:
    ``1 + samples // hop`` frames. Otherwise frames of ``win_length`` samples from sample 0,
    zero-padded at their end to ``n_fft`` (TensorFlow's ``tf.signal.stft``):
    ``1 + (samples - win_length) // hop`` frames. Magnitudes do not depend on where in the FFT
    frame the window lies.

    Raises
    ------
    ValueError
        If the signal is shorter than one frame.
    """
    x = torch.as_tensor(x).to(torch.float64)
    if cfg.center:
        pad = cfg.n_fft // 2
        shp = x.shape
        n_frames = 1 + shp[-1] // cfg.hop
        x = torch.nn.functional.pad(x.reshape(-1, 1, shp[-1]), (pad, pad), mode="reflect").reshape(*shp[:-1], -1)
        left = (cfg.n_fft - cfg.win_length) // 2
        frames = x[..., left:].unfold(-1, cfg.win_length, cfg.hop)[..., :n_frames, :]
    else:
        if x.shape[-1] < cfg.win_length:
            raise ValueError(f"signal has {x.shape[-1]} samples, fewer than one {cfg.name} frame ({cfg.win_length})")
        frames = x.unfold(-1, cfg.win_length, cfg.hop)
    spec = torch.fft.rfft(frames * _periodic_hann(cfg.win_length), n=cfg.n_fft, dim=-1).abs()
    if not cfg.magnitude:
        spec = spec.square()
    return spec.transpose(-1, -2)


def mel_matrix(cfg: MelConfig, n_fft: int | None = None, sampling_rate: int | None = None) -> torch.Tensor:
    """Filterbank of ``cfg`` as a float64 tensor, optionally for another FFT size or rate."""
    return torch.from_numpy(mel_filterbank(sampling_rate or cfg.sampling_rate, n_fft or cfg.n_fft,
                                           cfg.n_mels, cfg.fmin, cfg.fmax, cfg.scale))


def log_compress(mel: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Apply the classifier's log: ``10 log10(max(x, 1e-10))`` (PANN) or ``ln(x + 0.001)`` (YAMNet)."""
    if cfg.log == "db":
        return 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
    return torch.log(mel + 0.001)


def log_mel(x: np.ndarray | torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Log-Mel spectrogram ``(..., n_mels, frames)`` (float64) of a waveform at ``cfg.sampling_rate``.

    Parameters
    ----------
    x : array, shape ``(..., samples)``
        Waveform, full scale 1.0, already at ``cfg.sampling_rate`` Hz.
    cfg : MelConfig
        :data:`PANN` or :data:`YAMNET`.
    """
    spec = spectrogram(torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x), cfg)
    return log_compress(mel_matrix(cfg) @ spec, cfg)


def resample(x: np.ndarray, sr_in: int, sr_out: int, method: str = "polyphase") -> np.ndarray:
    """Resample along the last axis; float32 out.

    Parameters
    ----------
    method : str
        ``"polyphase"``: :func:`scipy.signal.resample_poly` (Kaiser window, beta 5).
        ``"soxr"``: libsoxr's high-quality resampler (``soxr.resample(..., quality="HQ")``), the
        one ``librosa.load(sr=...)`` uses by default (``res_type="soxr_hq"``) and therefore the
        Spectral Transcoder's reference dataset pipeline; float32 input is resampled in float32
        and the output cut or zero-padded to ``ceil(samples * sr_out / sr_in)``, as librosa does.

    Raises
    ------
    ValueError
        For an unknown ``method``.
    """
    if method not in ("polyphase", "soxr"):
        raise ValueError(f"resampling method must be 'polyphase' or 'soxr', got {method!r}")
    x = np.asarray(x)
    if sr_in == sr_out:
        return x.astype(np.float32)
    if method == "soxr":
        import soxr

        xs = np.ascontiguousarray(np.moveaxis(x, -1, 0), dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float32)
        y = np.moveaxis(soxr.resample(xs, sr_in, sr_out, quality="HQ"), 0, -1)
        # librosa.resample(fix=True): cut or zero-pad to ceil(samples * sr_out / sr_in)
        n = math.ceil(x.shape[-1] * sr_out / sr_in)
        y = y[..., :n] if y.shape[-1] >= n else np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, n - y.shape[-1])])
        return y.astype(np.float32)
    g = math.gcd(int(sr_in), int(sr_out))
    return resample_poly(x, sr_out // g, sr_in // g, axis=-1).astype(np.float32)
