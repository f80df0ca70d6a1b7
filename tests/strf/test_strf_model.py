"""STRFConv2d: kernel values against the formula, the seed's loop, gradients, task networks."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from audiopipe.models.strf import SpeechActivityNet, STRFConv2d, UrbanSTRFNet, strf_grid

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _seed_reference import seed_strf_forward, seed_strf_weight  # noqa: E402


def _formula(sf, st, om, ga, f, t):
    env = math.exp(-0.5 * (f * f / (sf + 1e-3) ** 2 + t * t / (st + 1e-3) ** 2))
    return env * math.cos(om * (t * math.cos(ga) + f * math.sin(ga))) / (2 * math.pi * sf * st)


def test_kernel_values_match_formula():
    layer = STRFConv2d(2, 3, (7, 5), seed=1)
    k = layer.kernels().detach()
    assert k.shape == (3, 2, 7, 5)
    f, t = strf_grid(7), strf_grid(5)
    assert f.tolist() == [-3, -2, -1, 0, 1, 2, 3] and t.tolist() == [-2, -1, 0, 1, 2]
    for o in range(3):
        for i in range(2):
            p = [float(getattr(layer, n).detach()[o, i]) for n in ("sigma_f", "sigma_t", "omega", "gamma")]
            for a in range(7):
                for b in range(5):
                    assert float(k[o, i, a, b]) == pytest.approx(_formula(*p, float(f[a]), float(t[b])), rel=1e-5, abs=1e-9)
    # centred grid: the kernel's envelope peaks at the centre tap
    assert layer.kernels().abs().sum((0, 1)).argmax().item() == 3 * 5 + 2


def test_seed_initialisation_ranges():
    layer = STRFConv2d(1, 400, (9, 9), seed=0)
    om = layer.omega.detach()
    assert om.max() <= math.pi / 2 and om.min() >= math.pi / 2 * 1.41 ** -5
    for s in (layer.sigma_f, layer.sigma_t):
        assert s.min() >= 2 and s.max() <= 2 * 1.41 ** 6
    assert layer.gamma.min() >= -math.pi and layer.gamma.max() <= math.pi
    assert layer.gamma.std() > 1.5  # uniform on the circle (std pi/sqrt 3 = 1.81)


def test_seed_grid_reproduces_seed_loop():
    layer = STRFConv2d(2, 4, (9, 8), grid="seed", padding=(4, 4), seed=3)
    zeros = torch.zeros(4, 2)
    w_ref = seed_strf_weight(layer.sigma_f.detach(), layer.sigma_t.detach(), layer.omega.detach(), zeros,
                             layer.gamma.detach(), zeros, (9, 8))
    torch.testing.assert_close(layer.kernels().detach(), w_ref)
    x = torch.randn(2, 2, 16, 20)
    y_ref = seed_strf_forward(x, layer.sigma_f.detach(), layer.sigma_t.detach(), layer.omega.detach(), zeros,
                              layer.gamma.detach(), zeros, (9, 8), (4, 4))
    torch.testing.assert_close(layer(x).detach(), y_ref)


def test_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    layer = STRFConv2d(1, 5, (9, 9), seed=2)
    x = torch.randn(2, 1, 32, 40)
    layer(x).square().mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert (p.grad.abs() > 0).all(), name
    # finite-difference check of one parameter in float64
    l64 = STRFConv2d(1, 2, (5, 5), seed=4).double()
    x64 = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda s: torch.nn.functional.conv2d(
        x64, __import__("audiopipe.models.strf", fromlist=["gabor_kernels"]).gabor_kernels(
            s, l64.sigma_t, l64.omega, l64.gamma, l64.f.double(), l64.t.double()), padding="same"),
        (l64.sigma_f.detach().clone().requires_grad_(),))


def test_task_networks_shapes():
    sad = SpeechActivityNet("strf", seed=0)
    assert sad(torch.randn(2, 64, 50)).shape == (2, 50)
    urb = UrbanSTRFNet("conv", classes=3)
    assert urb(torch.randn(2, 64, 101)).shape == (2, 3)
    with pytest.raises(ValueError, match="front end"):
        SpeechActivityNet("sinc")
