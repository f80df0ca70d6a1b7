"""Conv-TasNet: a fully-convolutional time-domain audio separation network.

Reference: Y. Luo and N. Mesgarani, "Conv-TasNet: Surpassing ideal time–frequency magnitude
masking for speech separation", IEEE/ACM TASLP 27(8), 2019 (Sec. II, Table I for N, L, B, H, P,
X, R). Hyper-parameter names follow the paper:

====  =========================================================
N     number of encoder basis filters
L     filter length (samples); encoder stride L // 2
B     bottleneck / residual channels
H     channels inside a convolutional block
P     depthwise kernel size
X     convolutional blocks per repeat (dilations 1, 2, ..., 2^(X-1))
R     number of repeats
====  =========================================================

Multi-channel input (e.g. the Clarity hearing-aid CH1 pair) is handled as in the Clarity
CEC2 baseline's multi-channel Conv-TasNet: the encoder is a ``Conv1d(in_channels, N, L)`` and each
source is decoded to ``out_channels`` signals.
"""

from __future__ import annotations

import torch
from torch import nn


class _ChannelAffineNorm(nn.Module):
    """Base of gLN/cLN: per-channel gain ``gamma`` and bias ``beta`` of shape ``(1, channels, 1)``."""

    def __init__(self, channels: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, channels, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1))
        self.eps = eps


class GlobalLayerNorm(_ChannelAffineNorm):
    """Global layer normalisation (gLN) over channels and time, Eq. (13) of the paper.

    Input and output ``(batch, channels, frames)``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2), keepdim=True)
        var = (x - mean).pow(2).mean(dim=(1, 2), keepdim=True)
        return self.gamma * (x - mean) / torch.sqrt(var + self.eps) + self.beta


class CumulativeLayerNorm(_ChannelAffineNorm):
    """Cumulative layer normalisation (cLN) for causal models, Eq. (14)-(16) of the paper."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        count = torch.arange(1, x.shape[-1] + 1, device=x.device, dtype=x.dtype) * c
        cum_sum = x.sum(1, keepdim=True).cumsum(-1)
        cum_pow = x.pow(2).sum(1, keepdim=True).cumsum(-1)
        mean = cum_sum / count
        var = cum_pow / count - mean.pow(2)
        return self.gamma * (x - mean) / torch.sqrt(var.clamp_min(0) + self.eps) + self.beta


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "gLN":
        return GlobalLayerNorm(channels)
    if kind == "cLN":
        return CumulativeLayerNorm(channels)
    if kind == "BN":
        return nn.BatchNorm1d(channels)
    raise ValueError(f"unknown norm {kind!r}: expected 'gLN', 'cLN' or 'BN'")


class ConvBlock(nn.Module):
    """1-D convolutional block of Fig. 1(c): 1x1 conv → PReLU → norm → depthwise dilated conv →
    PReLU → norm → (residual 1x1 conv, skip 1x1 conv)."""

    def __init__(self, B: int, H: int, P: int, dilation: int, norm: str, causal: bool) -> None:
        super().__init__()
        self.causal_pad = (P - 1) * dilation if causal else 0
        pad = 0 if causal else (P - 1) * dilation // 2
        self.pre = nn.Sequential(nn.Conv1d(B, H, 1), nn.PReLU(), _norm(norm, H))
        self.depthwise = nn.Conv1d(H, H, P, dilation=dilation, padding=pad, groups=H)
        self.post = nn.Sequential(nn.PReLU(), _norm(norm, H))
        self.res = nn.Conv1d(H, B, 1)
        self.skip = nn.Conv1d(H, B, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.pre(x)
        if self.causal_pad:  # left padding only: frame t sees frames <= t
            y = nn.functional.pad(y, (self.causal_pad, 0))
        y = self.post(self._depthwise(y))
        return x + self.res(y), self.skip(y)

    def _depthwise(self, y: torch.Tensor) -> torch.Tensor:
        """Depthwise dilated convolution as a sum of P shifted, channel-scaled copies.

        Identical to ``self.depthwise(y)`` (same parameters, same result to float precision), but
        its backward pass avoids oneDNN's slow grouped-dilated-convolution gradient on CPU
        (about 3x faster per block here); on CUDA the library convolution is used.
        """
        conv = self.depthwise
        if y.is_cuda:
            return conv(y)
        (d,), (pad,), P = conv.dilation, conv.padding, conv.kernel_size[0]
        if pad:
            y = nn.functional.pad(y, (pad, pad))
        n = y.shape[-1] - d * (P - 1)
        w = conv.weight[:, 0, :]
        out = conv.bias[:, None] + w[:, 0, None] * y[..., :n]
        for k in range(1, P):
            out = out + w[:, k, None] * y[..., k * d : k * d + n]
        return out


class TemporalConvNet(nn.Module):
    """The separation module (Fig. 1(b)): norm → bottleneck → R×X ConvBlocks → PReLU → masks.

    Maps encoder output ``(batch, N, frames)`` to masks ``(batch, n_src, N, frames)``.
    """

    def __init__(self, n_src: int, N: int, B: int, H: int, P: int, X: int, R: int,
                 norm: str = "gLN", causal: bool = False, mask_act: str = "relu") -> None:
        super().__init__()
        self.n_src, self.N = n_src, N
        self.bottleneck = nn.Sequential(_norm("cLN" if causal and norm == "gLN" else norm, N),
                                        nn.Conv1d(N, B, 1))
        self.blocks = nn.ModuleList(
            ConvBlock(B, H, P, 2**x, norm, causal) for _ in range(R) for x in range(X)
        )
        self.out = nn.Sequential(nn.PReLU(), nn.Conv1d(B, n_src * N, 1))
        acts = {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "softmax": nn.Softmax(dim=1)}
        if mask_act not in acts:
            raise ValueError(f"unknown mask_act {mask_act!r}: expected one of {sorted(acts)}")
        self.mask_act = acts[mask_act]

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        x = self.bottleneck(w)
        skip = 0.0
        for block in self.blocks:
            x, s = block(x)
            skip = skip + s
        m = self.out(skip).view(w.shape[0], self.n_src, self.N, -1)
        return self.mask_act(m)


class ConvTasNet(nn.Module):
    """Conv-TasNet with multi-channel input and output.

    Parameters
    ----------
    n_src : int
        Number of output sources (Clarity: 2, target and interferer).
    in_channels, out_channels : int
        Channels of the mixture and of each estimated source (Clarity: 2 and 2).
    N, L, B, H, P, X, R : int
        Paper hyper-parameters (see module docstring).
    norm : {"gLN", "cLN", "BN"}
    causal : bool
    mask_act : {"relu", "sigmoid", "softmax"}

    Shapes
    ------
    ``forward``: ``(batch, in_channels, samples)`` → ``(batch, n_src, out_channels, samples)``;
    the input is zero-padded to a whole number of strides and the output cropped back.
    """

    def __init__(self, n_src: int = 2, in_channels: int = 1, out_channels: int | None = None,
                 N: int = 512, L: int = 16, B: int = 128, H: int = 512, P: int = 3, X: int = 8,
                 R: int = 3, norm: str = "gLN", causal: bool = False, mask_act: str = "relu") -> None:
        super().__init__()
        if L % 2:
            raise ValueError(f"L must be even (stride L/2), got {L}")
        out_channels = in_channels if out_channels is None else out_channels
        self.n_src, self.L, self.out_channels = n_src, L, out_channels
        self.encoder = nn.Conv1d(in_channels, N, L, stride=L // 2, bias=False)
        self.separator = TemporalConvNet(n_src, N, B, H, P, X, R, norm, causal, mask_act)
        self.decoder = nn.ConvTranspose1d(N, out_channels, L, stride=L // 2, bias=False)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        if mixture.ndim == 2:
            mixture = mixture.unsqueeze(1)
        n = mixture.shape[-1]
        stride = self.L // 2
        pad = (-(n - self.L) % stride) if n >= self.L else self.L - n
        x = nn.functional.pad(mixture, (0, pad))
        w = torch.relu(self.encoder(x))
        masks = self.separator(w)  # (batch, n_src, N, frames)
        b, s, N, f = masks.shape
        y = self.decoder((masks * w.unsqueeze(1)).reshape(b * s, N, f))
        return y.reshape(b, s, self.out_channels, -1)[..., :n]
