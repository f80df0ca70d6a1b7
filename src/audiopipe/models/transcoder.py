"""Third-octave -> log-Mel transcoders: PINV and CNN (Tailleur et al., DCASE 2023).

Source: paper Sec. 2.2-2.3; reference implementation ``modantailleur/paperSpectralTranscoder``
``utils/pinv_transcoder.py`` (``pinv``) and ``models.py`` (``CNN``), whose behaviour is kept:

* PINV: dB levels -> band energies (inverse of ``20 log10(rms) + 26``) -> the seed's energy
  compensation between the 4096-point third-octave FFT and the classifier's FFT
  (``((1 + n_fft_mel / 2) / (1 + n_fft_tho / 2) * 0.5) ** 2``, 0.5 for the Hann window) ->
  Moore-Penrose pseudo-inverse of the 0/1 band matrix with negative entries set to 0 (ReLU) ->
  linear interpolation in time to the classifier's frame count -> the classifier's Mel
  filterbank evaluated on the 4096-point grid -> its log.
* CNN: PINV output, then ``n_layers`` replication-padded convolutions (kernel 5 Mel bands x 3
  frames, ``channels`` channels, ReLU between, none after the last), subtracted from the PINV
  output (residual).

YAMNet's own Mel bands are computed on a *magnitude* spectrogram, but the reference ``pinv``
feeds the PINV *power* to YAMNet's Mel matrix (``VGGishLogMelSpectrogramFromPower``, its
``specgram ** 0.5`` commented out), so the paper's PINV-YAMNet results and the residual the CNN
learns are those of the power version: it is the default (``magnitude=False``), as the paper leaves
this detail open. ``magnitude=True`` square-roots the power first, which puts the PINV output on
YAMNet's own log-magnitude scale (a different, not reproduced, system). The Mel matrix is the
classifier's (:mod:`audiopipe.features.mel`) evaluated on the 4096-point grid at 32 kHz, as the
reference's ``LogmelFilterBank(n_fft=4096)`` / ``MelScale(n_stft=2049, sample_rate=32000)``.
Pure module: tensors in, tensors out.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from audiopipe.features.mel import MelConfig, log_compress, mel_matrix
from audiopipe.features.third_octave import DB_OFFSET, N_FFT, SAMPLING_RATE, levels_to_band_energy, third_octave_matrix


class PinvTranscoder(nn.Module):
    """Pseudo-inverse transcoder: third-octave levels ``(batch, 29, frames_in)`` in dB ->
    log-Mel ``(batch, n_mels, cfg.frames)``.

    Parameters
    ----------
    cfg : MelConfig
        Target classifier's Mel front end (:data:`audiopipe.features.mel.PANN` or ``YAMNET``).
    n_fft_tho : int
        FFT size of the third-octave analysis (4096).
    sampling_rate_tho : int
        Rate of the third-octave analysis in Hz (32000).
    magnitude : bool
        Take the square root of the power before the Mel matrix (default False: the reference
        code's power, for PANN and YAMNet alike; see the module docstring).
    """

    def __init__(self, cfg: MelConfig, n_fft_tho: int = N_FFT, sampling_rate_tho: int = SAMPLING_RATE,
                 db_offset: float = DB_OFFSET, magnitude: bool = False):
        super().__init__()
        self.cfg = cfg
        self.n_fft_tho = n_fft_tho
        self.db_offset = db_offset
        self.magnitude = bool(magnitude)
        bands = third_octave_matrix(sampling_rate_tho, n_fft_tho)
        pinv = np.maximum(np.linalg.pinv(bands, rcond=1e-15), 0.0)  # (bins, bands)
        self.register_buffer("pinv", torch.from_numpy(pinv).float())
        self.register_buffer("mel", mel_matrix(cfg, n_fft=n_fft_tho, sampling_rate=sampling_rate_tho).float())
        self.scale = ((1 + cfg.n_fft / 2) / (1 + n_fft_tho / 2) * 0.5) ** 2

    def forward(self, levels: torch.Tensor) -> torch.Tensor:
        """Transcode ``(batch, 29, frames_in)`` dB levels to ``(batch, n_mels, frames_out)`` log-Mel."""
        if levels.dim() != 3 or levels.shape[1] != self.pinv.shape[1]:
            raise ValueError(f"expected levels of shape (batch, {self.pinv.shape[1]}, frames), got {tuple(levels.shape)}")
        energy = levels_to_band_energy(levels.float(), self.n_fft_tho, self.db_offset) * self.scale
        spec = torch.nn.functional.relu(self.pinv @ energy)  # (batch, bins, frames_in)
        spec = torch.nn.functional.interpolate(spec, size=self.cfg.frames, mode="linear", align_corners=False)
        if self.magnitude:
            spec = torch.sqrt(spec + 1e-20)
        return log_compress(self.mel @ spec, self.cfg).float()


class CNNTranscoder(nn.Module):
    """PINV followed by a residual CNN on the log-Mel image.

    Parameters
    ----------
    cfg : MelConfig
        Target classifier's Mel front end.
    n_layers : int
        Convolution layers (5 in the paper's best system), at least 2.
    channels : int
        Hidden channels (64 in the paper).
    kernel : tuple of int
        ``(Mel bands, frames)`` kernel size (``(5, 3)``: the seed's 3 x 5 in (time, Mel)).
    """

    def __init__(self, cfg: MelConfig, n_layers: int = 5, channels: int = 64,
                 kernel: tuple[int, int] = (5, 3), magnitude: bool = False):
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"n_layers must be >= 2, got {n_layers}")
        kf, kt = kernel
        if kf % 2 == 0 or kt % 2 == 0:
            raise ValueError(f"kernel sizes must be odd, got {kernel}")
        self.pinv = PinvTranscoder(cfg, magnitude=magnitude)
        pad = (kt // 2, kt // 2, kf // 2, kf // 2)
        layers: list[nn.Module] = []
        cin = 1
        for _ in range(n_layers - 1):
            layers += [nn.ReplicationPad2d(pad), nn.Conv2d(cin, channels, (kf, kt)), nn.ReLU()]
            cin = channels
        layers += [nn.ReplicationPad2d(pad), nn.Conv2d(cin, 1, (kf, kt))]
        self.conv = nn.Sequential(*layers)

    def forward(self, levels: torch.Tensor) -> torch.Tensor:
        """Transcode ``(batch, 29, frames_in)`` dB levels to ``(batch, n_mels, frames_out)`` log-Mel."""
        y = self.pinv(levels).unsqueeze(1)
        return (y - self.conv(y)).squeeze(1)


def build_transcoder(kind: str, cfg: MelConfig, **cnn_kwargs) -> nn.Module:
    """``"pinv"`` -> :class:`PinvTranscoder`, ``"cnn_pinv"`` -> :class:`CNNTranscoder`.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    if kind == "pinv":
        return PinvTranscoder(cfg)
    if kind == "cnn_pinv":
        return CNNTranscoder(cfg, **cnn_kwargs)
    raise ValueError(f"unknown transcoder {kind!r}; choose 'pinv' or 'cnn_pinv'")


__all__ = ["PinvTranscoder", "CNNTranscoder", "build_transcoder"]
