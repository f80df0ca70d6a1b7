"""Learnable spectro-temporal receptive fields (STRFConv2d) and the STRF task networks.

Source: Riad, Karadayi, Bachoud-Levi & Dupoux, "Learning spectro-temporal representations of
complex sounds with parameterized neural networks", JASA 150(1), 2021, Eq. (1)-(2); reference
implementation ``bootphon/learnable-strf`` (commit ``047b1c1``, ``models.py`` ``STRFConv2d``, also
listed in its README; inspired by GaborNet). ``tests/fidelity/test_strf.py`` checks the grid, the
kernels, the initial distributions and the forward pass on a real log-Mel against values
computed with that class (``docs/fidelity.md``).

Each (output, input) channel pair owns four learnable parameters: ``sigma_f``, ``sigma_t``
(Gaussian envelope widths along the frequency and time axes, in bins), ``omega`` (modulation
frequency, rad/bin) and ``gamma`` (modulation orientation). The kernel on an integer grid
``(f, t)`` is

    K(f, t) = exp(-1/2 (f^2 / (sigma_f + eps)^2 + t^2 / (sigma_t + eps)^2))
              * cos(omega (t cos(gamma) + f sin(gamma))) / (2 pi sigma_f sigma_t),  eps = 1e-3.

Every kernel is built at once with broadcasting (the seed loops over all pairs in Python on
every forward). Initialisation is the seed's: ``gamma ~ U(-pi, pi)`` (``vonmises(0, 0)``),
``omega = pi / 2 * 1.41 ** -U(0, 5)``, ``sigma_f, sigma_t = 2 * 1.41 ** U(0, 6)``.

Seed quirks and what is done with them:

* **Off-centre grid.** The seed samples ``linspace(-ceil(k/2) + 1, ceil(k/2), k)``: for an even
  ``k`` the grid is shifted by half a bin, for an odd ``k`` its step is ``k / (k - 1)`` rather than
  1 (e.g. ``k = 9``: -4 ... 5 in steps of 1.125). The paper's Gabor is centred, so the default
  ``grid="centred"`` uses ``arange(k) - (k - 1) / 2``; ``grid="seed"`` reproduces the seed's
  kernels bit for bit (the paper's text was not re-read in the fidelity check; the centred
  default rests on the Gabor being a function centred on 0).
* **Unused theta and psi.** The seed creates learnable ``theta`` (rotation) and ``psi`` (phase)
  but never uses them in the kernel (it computes a rotated grid and discards it), so they get no
  gradient. They are left out here.
* The seed's ``eps = 1e-3`` in the envelope (not in the normalisation) is kept.
* ``use_real=False`` in the seed swaps the cosine for a sine; available as ``quadrature=True``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from audiopipe.models.classifiers import _ConvBlock

EPS = 1e-3


def strf_grid(k: int, grid: str = "centred") -> torch.Tensor:
    """Sampling positions (bins) of a kernel axis of length ``k``.

    Raises
    ------
    ValueError
        For an unknown ``grid``.
    """
    if grid == "centred":
        return torch.arange(k, dtype=torch.float32) - (k - 1) / 2
    if grid == "seed":
        c = math.ceil(k / 2)
        return torch.linspace(-c + 1, c, k)
    raise ValueError(f"grid must be 'centred' or 'seed', got {grid!r}")


def gabor_kernels(sigma_f: torch.Tensor, sigma_t: torch.Tensor, omega: torch.Tensor, gamma: torch.Tensor,
                  f: torch.Tensor, t: torch.Tensor, quadrature: bool = False) -> torch.Tensor:
    """STRF kernels for all channel pairs at once.

    Parameters
    ----------
    sigma_f, sigma_t, omega, gamma : torch.Tensor, shape ``(out, in)``
    f, t : torch.Tensor, shape ``(kf,)`` and ``(kt,)``
        Frequency and time sampling positions in bins.

    Returns
    -------
    torch.Tensor, shape ``(out, in, kf, kt)``
    """
    sf, st, om, ga = (p[..., None, None] for p in (sigma_f, sigma_t, omega, gamma))
    ff, tt = f[:, None], t[None, :]
    env = torch.exp(-0.5 * (ff ** 2 / (sf + EPS) ** 2 + tt ** 2 / (st + EPS) ** 2))
    phase = om * (tt * torch.cos(ga) + ff * torch.sin(ga))
    carrier = torch.sin(phase) if quadrature else torch.cos(phase)
    return env * carrier / (2 * math.pi * sf * st)


class STRFConv2d(nn.Module):
    """2-D convolution whose kernels are learnable Gabor STRFs.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : tuple of int
        ``(kf, kt)``: frequency bins x frames.
    padding : str or tuple
        As :func:`torch.nn.functional.conv2d` (default ``"same"``).
    grid : str
        ``"centred"`` (paper) or ``"seed"`` (reference code's off-centre grid).
    seed : int, optional
        Seed of the initialisation draw (numpy ``default_rng``); None draws from torch's RNG state.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int] = (9, 9),
                 padding="same", grid: str = "centred", bias: bool = False, quadrature: bool = False,
                 seed: int | None = None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = tuple(kernel_size)
        self.padding = padding
        self.quadrature = quadrature
        shape = (out_channels, in_channels)
        if seed is None:
            seed = int(torch.randint(0, 2 ** 31 - 1, ()).item())
        rng = np.random.default_rng(seed)
        self.gamma = nn.Parameter(torch.tensor(rng.vonmises(0.0, 0.0, shape), dtype=torch.float32))
        self.omega = nn.Parameter(torch.tensor(np.pi / 2 * 1.41 ** -rng.uniform(0, 5, shape), dtype=torch.float32))
        self.sigma_f = nn.Parameter(torch.tensor(2 * 1.41 ** rng.uniform(0, 6, shape), dtype=torch.float32))
        self.sigma_t = nn.Parameter(torch.tensor(2 * 1.41 ** rng.uniform(0, 6, shape), dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.register_buffer("f", strf_grid(self.kernel_size[0], grid), persistent=False)
        self.register_buffer("t", strf_grid(self.kernel_size[1], grid), persistent=False)

    def kernels(self) -> torch.Tensor:
        """Current kernels ``(out, in, kf, kt)``."""
        return gabor_kernels(self.sigma_f, self.sigma_t, self.omega, self.gamma, self.f, self.t, self.quadrature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``(batch, in, freq, frames)`` -> ``(batch, out, freq', frames')``."""
        return F.conv2d(x, self.kernels(), self.bias, padding=self.padding)


def build_frontend(kind: str, channels: int, kernel: tuple[int, int], grid: str = "centred",
                   seed: int | None = None) -> nn.Module:
    """``"strf"`` (:class:`STRFConv2d`) or ``"conv"`` (plain ``nn.Conv2d``, same kernel and padding).

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    if kind == "strf":
        return STRFConv2d(1, channels, kernel, grid=grid, seed=seed)
    if kind == "conv":
        return nn.Conv2d(1, channels, kernel, padding="same", bias=False)
    raise ValueError(f"unknown front end {kind!r}; choose 'strf' or 'conv'")


class SpeechActivityNet(nn.Module):
    """Frame-level speech activity detector on log-Mel ``(batch, n_mels, frames)``.

    Front end (STRF or conv, ``channels`` maps) -> batch norm -> the ``(channels x n_mels)``
    maps of each frame projected to ``hidden`` -> bidirectional GRU -> one logit per frame.
    (The seed plugs STRFConv2d into pyannote.audio 2.0a1's PyanNet; this is a smaller network
    of the same shape: learnable front end, recurrent layer, frame classifier.)
    """

    def __init__(self, frontend: str = "strf", n_mels: int = 64, channels: int = 8,
                 kernel: tuple[int, int] = (9, 9), hidden: int = 32, grid: str = "centred",
                 seed: int | None = None):
        super().__init__()
        self.frontend = build_frontend(frontend, channels, kernel, grid, seed)
        self.norm = nn.BatchNorm2d(channels)
        self.proj = nn.Conv1d(channels * n_mels, hidden, 1)
        self.rnn = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, 1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Speech logits ``(batch, frames)``."""
        x = F.relu(self.norm(self.frontend(mel.unsqueeze(1))))  # (b, c, mels, frames)
        x = F.relu(self.proj(x.flatten(1, 2)))  # (b, hidden, frames)
        x, _ = self.rnn(x.transpose(1, 2))
        return self.out(x).squeeze(-1)


class UrbanSTRFNet(nn.Module):
    """Clip classifier with an STRF (or conv) layer on top of the Mel filterbank.

    Front end -> ``blocks`` PANN-style conv blocks (``width * 2 ** k`` channels, 2x2 pooling) ->
    max + mean over time of the frequency-averaged maps -> linear logits ``(batch, classes)``.
    """

    def __init__(self, frontend: str = "strf", classes: int = 10, channels: int = 8,
                 kernel: tuple[int, int] = (9, 9), width: int = 8, blocks: int = 3,
                 grid: str = "centred", seed: int | None = None):
        super().__init__()
        self.frontend = build_frontend(frontend, channels, kernel, grid, seed)
        self.norm = nn.BatchNorm2d(channels)
        ch = [channels] + [width * 2 ** k for k in range(blocks)]
        self.blocks = nn.ModuleList(_ConvBlock(ch[k], ch[k + 1]) for k in range(blocks))
        self.fc = nn.Linear(ch[-1], classes)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, classes)`` of log-Mel ``(batch, n_mels, frames)``."""
        x = self.norm(self.frontend(mel.unsqueeze(1)))
        for b in self.blocks:
            x = b(x, (2, 2))
        x = x.mean(dim=2)
        return self.fc(x.max(dim=2).values + x.mean(dim=2))
