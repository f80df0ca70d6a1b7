"""SAR-SSL multi-channel Conformer (MC-Conformer) and its cross-channel reconstruction pretext.

Source: Yang & Li, "Self-supervised learning of spatial acoustic representation with
cross-channel signal reconstruction and multi-channel Conformer", arXiv 2312.00476; reference
implementation ``Audio-WestlakeU/SAR-SSL`` (read, not copied):

* ``code/model.py`` — ``EmbedEncoder`` (CNN patch embedding + Conformer), ``EmbedDecoder``
  (MLP ``Linear(768, 3*1024) - ReLU - Linear(3*1024, 1024)``), ``SARSSL`` (frame patches,
  separate inputs of the spectral and spatial encoders, loss on the masked channel at masked
  frames, downstream ``mean over time -> LayerNorm -> Linear``);
* ``code/common/utils_module.py`` — ``PatchMask`` (half the frames, one random channel);
* ``code/common/Conformer.py`` (after sooftware/conformer) — Macaron feed-forward (x4, half-step
  residual), relative-position multi-head self-attention (4 heads), convolution module
  (pointwise x2 + GLU, depthwise kernel 31, BatchNorm, Swish), final LayerNorm.

Paper configuration (the defaults here): 256 frequency bins, 2 microphones, CNN with 64 channels,
spatial encoder 256-d with 3 Conformer layers, spectral encoder 512-d with 1 Conformer layer. The
reference counts parameters with ``get_nparams`` over ``model.named_parameters()`` of the
*pre-training* network (both encoders + decoder; BatchNorm running statistics are buffers and do
not count): 17,534,224 = 17.5 M. The encoders alone hold 12,025,104; the reference's downstream
network keeps both encoders plus the head (12,025,873) although only the spatial embedding feeds
the head, while :class:`DownstreamRegressor` here keeps only the spatial encoder (5,103,753).

Relative positions: the reference (sooftware) feeds absolute sinusoidal positions 0..T-1 to its
"relative" attention; here the Transformer-XL form with relative distances -(T-1)..T-1 is used
(same parameters: a bias-free position projection and the u/v biases).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class FeedForward(nn.Module):
    """Conformer feed-forward module: LayerNorm, Linear(d, f*d), Swish, dropout, Linear(f*d, d)."""

    def __init__(self, d: int, factor: int = 4, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(d), nn.Linear(d, factor * d), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(factor * d, d), nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, frames, d) -> (batch, frames, d)."""
        return self.net(x)


def sinusoid_relative_positions(n_frames: int, d: int, device=None) -> torch.Tensor:
    """Sinusoidal encodings of relative distances ``T-1, T-2, ..., -(T-1)``: (2T-1, d)."""
    pos = torch.arange(n_frames - 1, -n_frames, -1, device=device, dtype=torch.float32)
    inv = torch.exp(torch.arange(0, d, 2, device=device, dtype=torch.float32)
                    * (-math.log(10000.0) / d))
    ang = pos[:, None] * inv[None, :]
    out = torch.zeros(2 * n_frames - 1, d, device=device)
    out[:, 0::2] = torch.sin(ang)
    out[:, 1::2] = torch.cos(ang)
    return out


class RelPositionSelfAttention(nn.Module):
    """Multi-head self-attention with Transformer-XL relative positions (Dai et al. 2019, eq. 4).

    score(i, j) = [(q_i + u) . k_j + (q_i + v) . W_p r_{i-j}] / sqrt(d_head)
    """

    def __init__(self, d: int, n_heads: int = 4, dropout: float = 0.1):
        super().__init__()
        if d % n_heads:
            raise ValueError(f"model width {d} is not divisible by {n_heads} heads")
        self.h, self.dk = n_heads, d // n_heads
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.pos = nn.Linear(d, d, bias=False)
        self.u_bias = nn.Parameter(torch.zeros(n_heads, self.dk))
        self.v_bias = nn.Parameter(torch.zeros(n_heads, self.dk))
        nn.init.xavier_uniform_(self.u_bias)
        nn.init.xavier_uniform_(self.v_bias)
        self.out = nn.Linear(d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, frames, d) -> (batch, frames, d)."""
        b, t, d = x.shape
        q = self.q(x).view(b, t, self.h, self.dk)
        k = self.k(x).view(b, t, self.h, self.dk).transpose(1, 2)
        v = self.v(x).view(b, t, self.h, self.dk).transpose(1, 2)
        p = self.pos(sinusoid_relative_positions(t, d, x.device)).view(2 * t - 1, self.h, self.dk)
        content = torch.einsum("bihd,bhjd->bhij", q + self.u_bias, k)
        pos_all = torch.einsum("bihd,rhd->bhir", q + self.v_bias, p)  # (b, h, t, 2t-1)
        # relative distance i - j sits at index (t - 1) - (i - j) of the position table
        i = torch.arange(t, device=x.device)
        idx = (t - 1) - (i[:, None] - i[None, :])
        position = torch.gather(pos_all, 3, idx.expand(b, self.h, t, t))
        att = self.drop(torch.softmax((content + position) / math.sqrt(self.dk), dim=-1))
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        return self.out(y)


class ConvModule(nn.Module):
    """Conformer convolution module (pointwise x2 + GLU, depthwise, BatchNorm, Swish, pointwise)."""

    def __init__(self, d: int, kernel: int = 31, dropout: float = 0.1):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"conv kernel must be odd for 'same' padding, got {kernel}")
        self.norm = nn.LayerNorm(d)
        self.pw1 = nn.Conv1d(d, 2 * d, 1)
        self.dw = nn.Conv1d(d, d, kernel, padding=kernel // 2, groups=d, bias=False)
        self.bn = nn.BatchNorm1d(d)
        self.pw2 = nn.Conv1d(d, d, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, frames, d) -> (batch, frames, d)."""
        y = self.norm(x).transpose(1, 2)
        y = F.glu(self.pw1(y), dim=1)
        y = F.silu(self.bn(self.dw(y)))
        return self.drop(self.pw2(y)).transpose(1, 2)


class ConformerBlock(nn.Module):
    """Macaron Conformer block: ½FF, MHSA, Conv, ½FF (residual each), final LayerNorm."""

    def __init__(self, d: int, n_heads: int = 4, ff_factor: int = 4, kernel: int = 31,
                 dropout: float = 0.1):
        super().__init__()
        self.ff1 = FeedForward(d, ff_factor, dropout)
        self.att_norm = nn.LayerNorm(d)
        self.att = RelPositionSelfAttention(d, n_heads, dropout)
        self.att_drop = nn.Dropout(dropout)
        self.conv = ConvModule(d, kernel, dropout)
        self.ff2 = FeedForward(d, ff_factor, dropout)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, frames, d) -> (batch, frames, d)."""
        x = x + 0.5 * self.ff1(x)
        x = x + self.att_drop(self.att(self.att_norm(x)))
        x = x + self.conv(x)
        x = x + 0.5 * self.ff2(x)
        return self.norm(x)


class FrameEncoder(nn.Module):
    """CNN frame embedding followed by Conformer layers (``EmbedEncoder`` of the reference).

    The CNN sees the (re/im x microphone, frequency, frame) image: 1x1 conv to ``cnn_channels``,
    two 3x3 convs, 1x1 conv back to ``in_channels`` (each with BatchNorm + ReLU), then a conv
    spanning all frequency bins of one frame (kernel (bins, 1), no bias) to ``d`` — one token per
    frame ("one frame per patch").
    """

    def __init__(self, n_freq: int, in_channels: int, d: int, n_layers: int, *,
                 cnn_channels: int = 64, n_heads: int = 4, ff_factor: int = 4,
                 kernel: int = 31, dropout: float = 0.1):
        super().__init__()

        def cbr(i, o, k):
            return [nn.Conv2d(i, o, k, padding=k // 2, bias=False), nn.BatchNorm2d(o),
                    nn.ReLU(inplace=True)]

        self.cnn = nn.Sequential(
            *cbr(in_channels, cnn_channels, 1), *cbr(cnn_channels, cnn_channels, 3),
            *cbr(cnn_channels, cnn_channels, 3), *cbr(cnn_channels, in_channels, 1),
            nn.Conv2d(in_channels, d, kernel_size=(n_freq, 1), bias=False),
        )
        self.layers = nn.ModuleList(
            ConformerBlock(d, n_heads, ff_factor, kernel, dropout) for _ in range(n_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, 2*mics, bins, frames) -> (batch, frames, d)."""
        y = self.cnn(x).squeeze(2).transpose(1, 2)
        for layer in self.layers:
            y = layer(y)
        return y


class MCConformer(nn.Module):
    """SAR-SSL network: spatial and spectral encoders and the reconstruction decoder.

    Parameters
    ----------
    n_freq : int
        Frequency bins of the input (256 for a 512-point STFT without DC).
    n_mics : int
        Microphones (2).
    d_spatial, d_spectral : int
        Token widths of the spatial (256) and spectral (512) encoders.
    n_spatial_layers, n_spectral_layers : int
        Conformer layers (3 and 1).
    cnn_channels : int
        Channels of the CNN frame embedding (64).
    n_heads, ff_factor, conv_kernel : int
        Attention heads (4), feed-forward expansion (4), depthwise kernel (31).
    decoder_factor : int
        Hidden width of the MLP decoder as a multiple of its output width ``2 * mics * bins``
        (reference: 3).
    dropout : float
        Dropout in the Conformer layers (0.1).
    decoder : bool
        Build the decoder (pre-training); downstream networks leave it out.

    Notes
    -----
    Input features are ``(batch, mics, bins, frames, 2)`` (real/imaginary last), as written by
    :func:`audiopipe.features.stft.stft_features`.
    """

    def __init__(self, n_freq: int = 256, n_mics: int = 2, d_spatial: int = 256,
                 d_spectral: int = 512, n_spatial_layers: int = 3, n_spectral_layers: int = 1,
                 cnn_channels: int = 64, n_heads: int = 4, ff_factor: int = 4,
                 conv_kernel: int = 31, decoder_factor: int = 3, dropout: float = 0.1,
                 decoder: bool = True):
        super().__init__()
        self.n_freq, self.n_mics = n_freq, n_mics
        self.d_spatial, self.d_spectral = d_spatial, d_spectral
        cin = 2 * n_mics
        common = dict(cnn_channels=cnn_channels, n_heads=n_heads, ff_factor=ff_factor,
                      kernel=conv_kernel, dropout=dropout)
        self.spatial_encoder = FrameEncoder(n_freq, cin, d_spatial, n_spatial_layers, **common)
        self.spectral_encoder = FrameEncoder(n_freq, cin, d_spectral, n_spectral_layers, **common)
        self.decoder = None
        if decoder:
            d_out = cin * n_freq
            self.decoder = nn.Sequential(
                nn.Linear(d_spatial + d_spectral, decoder_factor * d_out), nn.ReLU(),
                nn.Linear(decoder_factor * d_out, d_out))

    @staticmethod
    def to_image(x: torch.Tensor) -> torch.Tensor:
        """(batch, mics, bins, frames, 2) -> (batch, mics*2, bins, frames)."""
        b, m, f, t, r = x.shape
        return x.permute(0, 1, 4, 2, 3).reshape(b, m * r, f, t)

    def embed_spatial(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial embedding of unmasked features: (batch, mics, bins, frames, 2) -> (batch, frames, d_spatial)."""
        return self.spatial_encoder(self.to_image(x))

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor,
                channel: torch.Tensor) -> torch.Tensor:
        """Pretext forward pass: predict every channel's STFT at every frame.

        Parameters
        ----------
        x : Tensor, (batch, mics, bins, frames, 2)
            Features.
        frame_mask : Tensor of bool, (batch, frames)
            True at masked frames.
        channel : Tensor of int64, (batch,)
            Masked microphone of each example.

        Returns
        -------
        Tensor, (batch, mics, bins, frames, 2)
            Decoder output; only the masked channel at masked frames enters the loss
            (:func:`reconstruction_loss`).

        Raises
        ------
        RuntimeError
            If the network was built without a decoder.
        """
        if self.decoder is None:
            raise RuntimeError("MCConformer built with decoder=False cannot run the pretext")
        spatial_in, spectral_in = pretext_inputs(x, frame_mask, channel)
        z = torch.cat([self.spectral_encoder(self.to_image(spectral_in)),
                       self.spatial_encoder(self.to_image(spatial_in))], dim=-1)
        b, m, f, t, r = x.shape
        y = self.decoder(z).view(b, t, m, f, r)
        return y.permute(0, 2, 3, 1, 4)


def random_mask(batch: int, n_frames: int, n_mics: int = 2, *,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """SAR-SSL mask: ``n_frames // 2`` random frames of one random microphone per example.

    Returns
    -------
    frame_mask : Tensor of bool, (batch, frames)
    channel : Tensor of int64, (batch,)

    Source: ``PatchMask`` with ``patch_mode='T'`` in ``code/common/utils_module.py``.
    """
    scores = torch.rand(batch, n_frames, generator=generator)
    order = scores.argsort(dim=1)
    frame_mask = torch.zeros(batch, n_frames, dtype=torch.bool)
    frame_mask.scatter_(1, order[:, : n_frames // 2], True)
    channel = torch.randint(0, n_mics, (batch,), generator=generator)
    return frame_mask, channel


def pretext_inputs(x: torch.Tensor, frame_mask: torch.Tensor,
                   channel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs of the two encoders under the cross-channel mask (``SARSSL.forward``, 'separate').

    Parameters
    ----------
    x : Tensor, (batch, mics, bins, frames, 2)
    frame_mask : Tensor of bool, (batch, frames)
    channel : Tensor of int64, (batch,)

    Returns
    -------
    spatial : Tensor, like ``x``
        Both channels at unmasked frames, zeros at masked frames.
    spectral : Tensor, like ``x``
        Single-channel content at every frame: the *other* (unmasked) microphone at masked
        frames, the masked microphone at unmasked frames; the rest zero. It never contains the
        reconstruction target (masked microphone at masked frames).
    """
    b, m = x.shape[:2]
    fm = frame_mask[:, None, None, :, None].to(x.dtype)          # 1 at masked frames
    is_ch = F.one_hot(channel, m).to(x.dtype)[:, :, None, None, None]  # 1 at masked mic
    spatial = x * (1 - fm)
    spectral = x * (fm * (1 - is_ch) + (1 - fm) * is_ch)
    return spatial, spectral


def reconstruction_loss(pred: torch.Tensor, x: torch.Tensor, frame_mask: torch.Tensor,
                        channel: torch.Tensor) -> torch.Tensor:
    """MSE between prediction and target on the masked microphone at masked frames.

    Mean over masked frames, bins and real/imaginary parts (``SARSSL.gen_loss``).

    Parameters
    ----------
    pred, x : Tensor, (batch, mics, bins, frames, 2)
    frame_mask : Tensor of bool, (batch, frames)
    channel : Tensor of int64, (batch,)
    """
    idx = torch.arange(x.shape[0], device=x.device)
    p = pred[idx, channel]  # (batch, bins, frames, 2)
    t = x[idx, channel]
    w = frame_mask[:, None, :, None].to(x.dtype).expand_as(t)
    return ((p - t) ** 2 * w).sum() / w.sum()


class DownstreamRegressor(nn.Module):
    """Downstream head on the spatial embedding: time mean -> LayerNorm -> Linear(d, 1).

    Source: ``SARSSL`` with ``pretrain=False``, ``downstream_embed='spat'`` (default of
    ``code/opt.py``), ``downstream_head='mlp'``, one output.
    """

    def __init__(self, encoder: nn.Module, d: int):
        super().__init__()
        self.spatial_encoder = encoder
        self.head = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, mics, bins, frames, 2) -> (batch,)."""
        z = self.spatial_encoder(MCConformer.to_image(x)).mean(dim=1)
        return self.head(z).squeeze(-1)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (not buffers), as the reference's ``get_nparams``."""
    return sum(p.numel() for p in module.parameters())
