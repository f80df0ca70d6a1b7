"""Faithful loop re-implementations of the seeds' definitions, for benchmarks and tests.

Written from the reference code's behaviour (``modantailleur/paperSpectralTranscoder``
``utils/bands_transform.py`` ``ThirdOctaveTransform.wave_to_third_octave`` and ``_tukey_window``;
``learnable-strf`` ``STRFConv2d.forward``): per-frame, per-band and per-channel-pair Python loops,
exactly as the seeds run them.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def seed_tukey(M: int, alpha: float = 0.2):
    begin = int((alpha / 2) * M)
    end = int(M - begin)
    corr = 0.0
    w = np.zeros(M)
    for i in range(begin):
        v = 0.5 * (1 + math.cos(2 * math.pi / alpha * ((i / M) - alpha / 2)))
        corr += v * v
        w[i] = v
    corr += end - begin
    w[begin:end] = 1
    for i in range(end, M):
        v = 0.5 * (1 + math.cos(2 * math.pi / alpha * ((i / M) - 1 + alpha / 2)))
        corr += v * v
        w[i] = v
    return w, 1 / math.sqrt(corr / M)


def seed_third_octave(x: np.ndarray, sr: int = 32000, flen: int = 4096, hlen: int = 4000) -> np.ndarray:
    """Third-octave levels (29, frames) in dB, looping as the seed does."""
    if (x.shape[0] - flen) % hlen != 0:
        x = np.append(x, np.zeros(hlen - (x.shape[0] - flen) % hlen))
    n_frames = int(np.floor((x.shape[0] - flen) / hlen + 1))
    out = np.zeros((29, n_frames))
    w, corr = seed_tukey(flen, 0.2)
    df = sr / flen
    for k in range(n_frames):
        X = np.square(np.abs(np.fft.rfft(x[k * hlen:k * hlen + flen] * w))) / 1.0
        for b in range(29):
            fc = pow(10, (b - 17) / 10.0) * 1000
            lo, hi = int(math.ceil(fc * pow(10, -1 / 20) / df)), int(math.ceil(fc * pow(10, 1 / 20) / df))
            s = 0.0
            for c in range(lo, hi + 1):
                s += X[c]
            out[b, k] = (np.sqrt(s / 2) / (flen / 2)) * corr
        col = out[:, k]
        col[col <= 0] = 10e-10
        out[:, k] = 20 * np.log10(col) + 26
    return out


def seed_strf_weight(sigma_x, sigma_y, freq, theta, gamma, psi, kernel_size):
    """The seed's per-pair loop building the STRF weight (out, in, kf, kt), off-centre grid."""
    out_c, in_c = sigma_x.shape
    f0 = torch.ceil(torch.Tensor([kernel_size[0] / 2]))[0]
    t0 = torch.ceil(torch.Tensor([kernel_size[1] / 2]))[0]
    f, t = torch.meshgrid(torch.linspace(-f0 + 1, f0, kernel_size[0]),
                          torch.linspace(-t0 + 1, t0, kernel_size[1]), indexing="ij")
    weight = torch.empty((out_c, in_c) + tuple(kernel_size))
    for i in range(out_c):
        for j in range(in_c):
            sx = sigma_x[i, j].expand_as(t)
            sy = sigma_y[i, j].expand_as(t)
            fr = freq[i, j].expand_as(t)
            th = theta[i, j].expand_as(t)
            ga = gamma[i, j].expand_as(t)
            _ = psi[i, j].expand_as(t)
            _rotx = t * torch.cos(th) + f * torch.sin(th)
            _roty = -t * torch.sin(th) + f * torch.cos(th)
            rot_gamma = t * torch.cos(ga) + f * torch.sin(ga)
            g = torch.exp(-0.5 * ((f ** 2) / (sx + 1e-3) ** 2 + (t ** 2) / (sy + 1e-3) ** 2))
            g = g * torch.cos(fr * rot_gamma)
            g = g / (2 * np.pi * sx * sy)
            weight[i, j] = g
    return weight


def seed_strf_forward(x, sigma_x, sigma_y, freq, theta, gamma, psi, kernel_size, padding):
    w = seed_strf_weight(sigma_x, sigma_y, freq, theta, gamma, psi, kernel_size)
    return torch.nn.functional.conv2d(x, w, None, 1, padding)
