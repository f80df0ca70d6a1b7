"""SFI Conv-TasNet (Saito et al., TASLP 2022) and the plain Conv-TasNet it is compared to.

The SFI model replaces Conv-TasNet's encoder and decoder by the SFI layers of
:mod:`audiopipe.models.sfi` and keeps the separator (the temporal convolutional network,
:class:`audiopipe.models.conv_tasnet.TemporalConvNet`) unchanged: because kernel size and stride
scale with the rate, a frame always spans 5 ms and frames are always 2.5 ms apart, so the
separator sees the same time scale at every rate. Paper configuration (as in the reference
``configs/model/sfi_convtasnet_*.yaml``): N 440, L 160 and stride 80 at 32 kHz, B 160, H 160,
P 3, X 6, R 2, gLN, softmax mask over the 4 sources, ReLU after the encoder.

Stereo is handled as in the reference code, which separates one channel at a time: channels are
folded into the batch, each channel goes through the network as a mono signal.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from audiopipe.models.conv_tasnet import ConvTasNet, TemporalConvNet
from audiopipe.models.sfi import SFIDecoder, SFIEncoder


class SFIConvTasNet(nn.Module):
    """Conv-TasNet whose encoder/decoder weights are generated for the input's sampling rate.

    Parameters
    ----------
    n_src : int
        Number of sources (MUSDB18: 4).
    N, L, stride : int
        Filters, kernel size and stride (samples) at ``fs_ref``.
    B, H, P, X, R : int
        Separator hyper-parameters (Conv-TasNet paper names).
    fs_ref : float
        Rate (Hz) at which ``L`` and ``stride`` are given (paper: 32 kHz, the training rate).
    filters : {"mgf", "mpgtf"}
        Latent analog filters (modulated Gaussian, multiphase gammatone).
    design : {"fd", "td"}
        Weight generator (frequency-domain least squares / time-domain sampling).
    filter_params : dict, optional
        Keyword arguments of the filter bank (e.g. ``freq_range``, ``init_sigma_hz``).
    n_freqs : int
        Frequency samples of the FD design (paper/reference: 640).
    weight_scale : {"paper", "reference"}
        TD gain convention (see :mod:`audiopipe.models.sfi`).
    rounding : {"floor", "nearest", "error"}
        Kernel/stride scaling at other rates (reference: ``floor``, truncation).
    tap_grid : str, optional
        Tap-grid override (None: the reference's grid for the filters and design).
    nyquist_mask : {"reference", "always", "never"}
        Which filters above ``fs/2`` are switched off (reference: TD design below ``fs_ref``).
    decoder_gain : {"stride", "none"}
        Decoder taps times the stride (rate-independent level) or not (reference).
    decoder_taps : {"reversed", "forward"}
        Decoder synthesis with the time-reversed taps (reference) or in time order.
    norm, mask_act : str
        Separator normalisation and mask activation (paper: gLN, softmax).

    Shapes
    ------
    ``forward(mixture, fs)``: ``(batch, channels, samples)`` → ``(batch, n_src, channels,
    samples)``. The input is zero-padded to whole frames and the output cropped back.
    """

    def __init__(self, n_src: int = 4, N: int = 440, L: int = 160, stride: int = 80, B: int = 160,
                 H: int = 160, P: int = 3, X: int = 6, R: int = 2, fs_ref: float = 32000.0,
                 filters: str = "mgf", design: str = "fd", filter_params: dict | None = None,
                 n_freqs: int = 640, weight_scale: str = "paper", norm: str = "gLN",
                 mask_act: str = "softmax", rounding: str = "floor", tap_grid: str | None = None,
                 nyquist_mask: str = "reference", decoder_gain: str = "stride",
                 decoder_taps: str = "reversed") -> None:
        super().__init__()
        common = dict(kernel_size=L, stride=stride, fs_ref=fs_ref, filters=filters,
                      filter_params=filter_params, design=design, n_freqs=n_freqs,
                      weight_scale=weight_scale, rounding=rounding, tap_grid=tap_grid,
                      nyquist_mask=nyquist_mask, decoder_gain=decoder_gain,
                      decoder_taps=decoder_taps)
        self.n_src = n_src
        self.encoder = SFIEncoder(N, **common)
        self.separator = TemporalConvNet(n_src, N, B, H, P, X, R, norm=norm, causal=False,
                                         mask_act=mask_act)
        self.decoder = SFIDecoder(N, **common)

    def forward(self, mixture: torch.Tensor, fs: float) -> torch.Tensor:
        if mixture.ndim == 2:
            mixture = mixture.unsqueeze(1)
        b, c, n = mixture.shape
        k, s = self.encoder.sizes(fs)
        x = mixture.reshape(b * c, 1, n)
        pad = (-(n - k) % s) if n >= k else k - n
        x = F.pad(x, (0, pad))
        w = torch.relu(self.encoder(x, fs))  # (b*c, N, frames)
        masks = self.separator(w)  # (b*c, n_src, N, frames)
        bc, ns, N, f = masks.shape
        y = self.decoder((masks * w.unsqueeze(1)).reshape(bc * ns, N, f), fs)
        return y.reshape(b, c, ns, -1)[..., :n].transpose(1, 2)


class MonoConvTasNet(nn.Module):
    """Plain Conv-TasNet (:class:`audiopipe.models.conv_tasnet.ConvTasNet`, mono in/out) applied
    channel by channel, with the same interface as :class:`SFIConvTasNet`.

    Its weights are fixed: ``forward(mixture, fs)`` ignores ``fs`` (the network runs at whatever
    rate it is given — the "plain" baseline of the evaluation).
    """

    def __init__(self, n_src: int = 4, N: int = 440, L: int = 160, B: int = 160, H: int = 160,
                 P: int = 3, X: int = 6, R: int = 2, norm: str = "gLN", mask_act: str = "softmax") -> None:
        super().__init__()
        self.n_src = n_src
        self.net = ConvTasNet(n_src=n_src, in_channels=1, N=N, L=L, B=B, H=H, P=P, X=X, R=R,
                              norm=norm, causal=False, mask_act=mask_act)

    def forward(self, mixture: torch.Tensor, fs: float | None = None) -> torch.Tensor:
        if mixture.ndim == 2:
            mixture = mixture.unsqueeze(1)
        b, c, n = mixture.shape
        y = self.net(mixture.reshape(b * c, 1, n))  # (b*c, n_src, 1, n)
        return y.reshape(b, c, self.n_src, n).transpose(1, 2)


def build_model(kind: str, config: dict) -> nn.Module:
    """Build ``sfi`` (:class:`SFIConvTasNet`) or ``plain`` (:class:`MonoConvTasNet`) from a dict.

    Raises
    ------
    ValueError
        For an unknown ``kind``; ``TypeError`` for an unknown key in ``config``.
    """
    if kind == "sfi":
        return SFIConvTasNet(**config)
    if kind == "plain":
        return MonoConvTasNet(**config)
    raise ValueError(f"unknown model kind {kind!r}: expected 'sfi' or 'plain'")
