"""Oracle tests of the learnable STRF layer against the official reference code.

The reference values (``tests/fidelity/reference/strf/*.json``) were computed by running the
``STRFConv2d`` (and ``AmplitudeToDB``) class of ``bootphon/learnable-strf`` ``models.py`` (commit
047b1c1, unmodified class source, torch 2.13.0 CPU, numpy 1.26.4, nnAudio 0.3.4 for the log-Mel
input) outside the project; each file's ``provenance`` block names the functions and inputs.
Rows: ``docs/fidelity.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from audiopipe.models.strf import STRFConv2d, strf_grid
from tests._torch_threads import one_torch_thread  # noqa: F401  (autouse)

REF = Path(__file__).resolve().parent / "reference" / "strf"
KERNELS = json.loads((REF / "kernels.json").read_text())
FORWARD = json.loads((REF / "forward_real_logmel.json").read_text())


def _report(row: str, ours: torch.Tensor, ref: torch.Tensor) -> float:
    """Print the measured difference (``pytest -s | grep FIDELITY``); return the relative one."""
    rel = ((ours - ref).abs().max() / ref.abs().max()).item()
    print(f"FIDELITY strf {row}: max abs {(ours - ref).abs().max().item():.3g}, max rel {rel:.3g}")
    return rel


def _load(layer: STRFConv2d, p: dict) -> STRFConv2d:
    """Copy the reference layer's parameters (sigma_x ↔ frequency, sigma_y ↔ time)."""
    with torch.no_grad():
        layer.sigma_f.copy_(torch.tensor(p["sigma_x"]))
        layer.sigma_t.copy_(torch.tensor(p["sigma_y"]))
        layer.omega.copy_(torch.tensor(p["freq"]))
        layer.gamma.copy_(torch.tensor(p["gamma"]))
    return layer


@pytest.mark.parametrize("k", list(KERNELS["grids"]))
def test_seed_grid_is_the_reference_grid(k):
    """grid='seed': torch.linspace(-ceil(k/2) + 1, ceil(k/2), k), the same float32 call: exact.
    grid='centred' (default) differs by half a bin (even k) or one bin at the ends (odd k)."""
    ref = torch.tensor(KERNELS["grids"][k])
    assert torch.equal(strf_grid(int(k), "seed"), ref)
    print(f"FIDELITY strf grid k={k}: seed exact; centred off by {(strf_grid(int(k), 'centred') - ref).abs().max().item()} bin")
    off = (strf_grid(int(k), "centred") - ref).abs().max().item()
    assert off == (0.0 if k == "1" else 0.5 if int(k) % 2 == 0 else 1.0)


@pytest.mark.parametrize("name", list(KERNELS["kernels"]))
def test_kernel_values_on_the_seed_grid(name):
    """Gabor STRF kernels (reference STRFConv2d.forward's weight loop, use_real=True) for 9x9,
    7x8 and 9x111 kernels. Same float32 formula and operation order, computed with broadcasting
    instead of a loop: measured bit-identical; tolerance 2 float32 ulps of the largest value
    (2.4e-7 relative) for a different summation order on another torch build."""
    d = KERNELS["kernels"][name]
    layer = _load(STRFConv2d(1, d["out_channels"], tuple(d["kernel_size"]), grid="seed", seed=0), d["params"])
    w = layer.kernels().detach()[..., :: d["time_step"]]
    ref = torch.tensor(d["weight"])
    assert w.shape == ref.shape
    assert _report(f"kernel {name}, grid=seed", w, ref) <= 2.4e-7


@pytest.mark.parametrize("name", list(KERNELS["kernels"]))
def test_centred_grid_differs_from_the_reference(name):
    """The default grid='centred' is a deliberate difference (docs/fidelity.md): measured 24-51 %
    of the largest kernel value against the reference's off-centre grid."""
    d = KERNELS["kernels"][name]
    layer = _load(STRFConv2d(1, d["out_channels"], tuple(d["kernel_size"]), seed=0), d["params"])
    w = layer.kernels().detach()[..., :: d["time_step"]]
    ref = torch.tensor(d["weight"])
    assert _report(f"kernel {name}, grid=centred (default)", w, ref) > 0.1


def test_initial_parameter_distributions():
    """Initialisation: gamma ~ vonmises(0, 0) (uniform on [-π, π]), omega = π/2·1.41^-U(0, 5),
    sigma = 2·1.41^U(0, 6). audiopipe draws with numpy's Generator, the reference with the legacy
    global RandomState, so values differ and distributions are compared: the empirical CDF of
    20000 audiopipe draws at the reference's 5 %, ..., 95 % quantiles (20000 draws) must be within
    0.04 of the nominal level (two-sample DKW bound, 2·sqrt(ln(2/1e-6)/(2·20000)) = 0.038); the
    ranges are the formulas' bounds."""
    init = KERNELS["init"]
    layer = STRFConv2d(1, init["n"], (9, 9), seed=0)
    bounds = {"sigma_x": (2.0, 2 * 1.41 ** 6), "sigma_y": (2.0, 2 * 1.41 ** 6),
              "freq": (math.pi / 2 * 1.41 ** -5, math.pi / 2), "gamma": (-math.pi, math.pi)}
    for ours, theirs in (("sigma_f", "sigma_x"), ("sigma_t", "sigma_y"), ("omega", "freq"), ("gamma", "gamma")):
        v = getattr(layer, ours).detach().flatten().double()
        lo, hi = bounds[theirs]
        assert lo - 1e-6 <= v.min() and v.max() <= hi + 1e-6, ours
        assert lo - 1e-6 <= init[theirs]["min"] and init[theirs]["max"] <= hi + 1e-6, theirs
        cdf = np.array([(v <= q).double().mean().item() for q in init[theirs]["q"]])
        dev = np.abs(cdf - np.array(init["quantiles"])).max()
        print(f"FIDELITY strf init {ours}: max |CDF(ref quantile) - level| {dev:.3g}")
        assert dev < 0.04, ours


def test_forward_on_a_real_log_mel():
    """STRFConv2d.forward (2 kernels 9x9, padding 4) on a real 64-Mel log spectrogram of the
    pyannote sample (nnAudio MelSpectrogram + the reference AmplitudeToDB, 20 frames). grid='seed'
    measured bit-identical; tolerance 1e-6 of the largest output (float32 accumulation of 81
    products of |x| <= 80). The default grid='centred' differs by 39 % of the largest output."""
    x = torch.tensor(FORWARD["input"])[None, None]
    ref = torch.tensor(FORWARD["output"])
    step = FORWARD["freq_step"]
    seed = _load(STRFConv2d(1, 2, tuple(FORWARD["kernel_size"]), padding=tuple(FORWARD["padding"]),
                            grid="seed", seed=0), FORWARD["params"])
    with torch.no_grad():
        y = seed(x)[0, :, ::step]
    assert y.shape == ref.shape
    assert _report("forward on real log-Mel, grid=seed", y, ref) < 1e-6
    centred = _load(STRFConv2d(1, 2, (9, 9), padding=(4, 4), seed=0), FORWARD["params"])
    with torch.no_grad():
        yc = centred(x)[0, :, ::step]
    assert _report("forward on real log-Mel, grid=centred (default)", yc, ref) > 0.1
