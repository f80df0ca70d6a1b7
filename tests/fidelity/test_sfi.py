"""Oracle tests of the SFI layers against the official reference code.

The reference values (``tests/fidelity/reference/sfi/*.json``) were computed by running
``TomohikoNakamura/sfi_convtasnet`` (commit f46f98a, unmodified, torch 2.13.0 CPU, numpy 1.26.4)
outside the project; each file's ``provenance`` block names the file, function and inputs.
The reference returns time-reversed kernels (conv1d correlation order); audiopipe returns taps in
time order, so every comparison flips audiopipe's taps. Rows: ``docs/fidelity.md``.

Tolerances: both sides compute the weights in float32 unless said otherwise; each test states
the error budget that its tolerance covers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.nn import functional as F

from audiopipe.models.sfi import SFIDecoder, SFIEncoder, digital_response, make_filters, scaled_size, tap_times
from tests._torch_threads import one_torch_thread  # noqa: F401  (autouse)

REF = Path(__file__).resolve().parent / "reference" / "sfi"
RATES = ["8000", "11025", "16000", "22050", "32000", "44100", "48000"]


def _load(name: str) -> dict:
    return json.loads((REF / name).read_text())


MGF = _load("mgf.json")
MPGTF = _load("mpgtf.json")
SCALING = _load("scaling.json")
LAYERS = _load("layers_real_audio.json")
MGF_PARAMS = {"freq_range": (50.0, 16000.0)}
MPGTF_PARAMS = {"freq_range": (50.0, 16000.0), "n_center": 4}


def _set_mgf(bank) -> None:
    """Copy the reference bank's parameters (mgf.json) into an audiopipe MGF bank."""
    p = MGF["params"]
    with torch.no_grad():
        bank.mu.copy_(torch.tensor(p["mus"]))
        bank.log_sigma2.copy_(torch.tensor(p["ln_sigma2s"]))
        bank.phase.copy_(torch.tensor(p["phase"]))


def _layer(cls, kind: str, design: str, **kw):
    if kind == "mgf":
        layer = cls(8, 160, 80, 32000, "mgf", MGF_PARAMS, design=design, **kw)
        _set_mgf(layer.filters)
    else:
        layer = cls(24, 160, 80, 32000, "mpgtf", MPGTF_PARAMS, design=design, **kw)
    return layer


def _report(row: str, ours: torch.Tensor, ref: torch.Tensor, rel: float) -> float:
    """Print the measured difference (``pytest -s | grep FIDELITY``) and return ``rel``."""
    print(f"FIDELITY sfi {row}: max abs {(ours - ref).abs().max().item():.3g}, max rel {rel:.3g}")
    return rel


def _rel_to_peak(ours: torch.Tensor, ref: torch.Tensor, row: str = "") -> float:
    """Largest error of each filter relative to that filter's largest reference tap."""
    peak = ref.abs().amax(dim=-1, keepdim=True).clamp(min=1e-30)
    return _report(row, ours, ref, ((ours - ref).abs() / peak).max().item())


def _rel_to_max(ours: torch.Tensor, ref: torch.Tensor, row: str = "") -> float:
    """Largest error relative to the largest reference value."""
    return _report(row, ours, ref, ((ours - ref).abs().max() / ref.abs().max()).item())


# --------------------------------------------------------------------- kernel and stride scaling
@pytest.mark.parametrize("fs", list(SCALING["sizes"]))
def test_kernel_and_stride_scaling(fs):
    """Exact integers: the reference truncates int(L·(fs/fs_ref)), as the default does."""
    enc = SFIEncoder(8, SCALING["L"], SCALING["W"], SCALING["fs_ref"])
    print(f"FIDELITY sfi kernel/stride {fs} Hz: audiopipe {enc.sizes(int(fs))}, reference {tuple(SCALING['sizes'][fs])}")
    assert list(enc.sizes(int(fs))) == SCALING["sizes"][fs]


def test_rounding_option_differs_where_the_product_is_not_integral():
    """rounding='nearest' (audiopipe's earlier default) is kept as an option; it differs from the
    reference exactly at the rates whose product is not an integer with a fraction >= 0.5."""
    ref = SCALING["sizes"]
    assert scaled_size(160, 44100, 32000, "nearest") == 221 and ref["44100"][0] == 220
    assert scaled_size(80, 11025, 32000, "nearest") == 28 and ref["11025"][1] == 27
    assert scaled_size(80, 44100, 32000, "nearest") == ref["44100"][1] == 110  # 110.25


# --------------------------------------------------------------------- modulated Gaussian (MGF)
def test_mgf_initialisation():
    """ERB-spaced centre frequencies of the paper-size bank (440 filters, 50 Hz-16 kHz), initial
    log σ² and its floor. Both sides compute the ERB spacing in float64 and round to float32:
    equal to 1 float32 ulp (rtol 2e-7)."""
    bank = make_filters("mgf", 440, MGF_PARAMS)
    init = MGF["paper_bank_init"]
    mu = bank.mu.detach()[:: init["filter_step"]]
    _report("MGF init centre frequencies (rad/s)", mu, torch.tensor(init["mus"]),
            ((mu - torch.tensor(init["mus"])).abs() / mu).max().item())
    np.testing.assert_allclose(mu.numpy(), init["mus"], rtol=2e-7)
    np.testing.assert_allclose(bank.log_sigma2.detach()[0].item(), init["ln_sigma2s_first"], rtol=2e-7)
    assert bank.min_log_sigma2 == pytest.approx(MGF["params"]["min_ln_sigma2s"], rel=1e-12)
    ph = bank.phase.detach()
    assert ph.min() >= init["phase_range"][0] and ph.max() <= init["phase_range"][1]


def test_mgf_frequency_response():
    """H_k(ω) at 64 frequencies (0-24 kHz): same float32 formula on both sides. |H| <= 2 and the
    float32 exponent's rounding gives at most x·e^{-x}·6e-8 < 1e-7: atol 1e-6."""
    bank = make_filters("mgf", 8, MGF_PARAMS)
    _set_mgf(bank)
    fr = MGF["frequency_response"]
    with torch.no_grad():
        H = bank.frequency_response(torch.tensor(fr["omega"]))
    ref = torch.complex(torch.tensor(fr["real"]), torch.tensor(fr["imag"]))
    _rel_to_max(H, ref, "MGF frequency response")
    np.testing.assert_allclose(H.real.numpy(), fr["real"], atol=1e-6)
    np.testing.assert_allclose(H.imag.numpy(), fr["imag"], atol=1e-6)


@pytest.mark.parametrize("fs", RATES)
def test_mgf_td_weights(fs):
    """TD weights (reference TDModulatedGaussianFilters.get_impulse_responses) at 7 rates, with
    weight_scale='reference' (the reference's 2π·fs gain) and the default Nyquist mask (TD,
    fs < fs_ref). float32 on both sides: the phase μ·t reaches 2π·16 kHz·2.5 ms = 251 rad and
    the two sides round t differently (reference: t - mean(t) in float32), so the phase differs
    by up to ~5e-5 rad: 2e-4 of each filter's peak."""
    d = MGF["td"][fs]
    enc = _layer(SFIEncoder, "mgf", "td", weight_scale="reference")
    w = enc.weights(int(fs)).detach().flip(-1)
    assert w.shape[-1] == d["kernel_size"]
    ref = torch.tensor(d["weights_reversed"])
    assert _rel_to_peak(w[:, :: d["tap_step"]], ref, f"MGF TD weights {fs} Hz") < 2e-4
    if int(fs) < 32000:  # filters above fs/2 are zero on both sides
        off = enc.filters.center_frequencies() > int(fs) / 2
        assert off.any() and torch.all(ref[off] == 0) and torch.all(w[off] == 0)


@pytest.mark.parametrize("fs", ["8000", "32000", "48000"])
def test_mgf_td_paper_scale_is_reference_over_2pi_fs(fs):
    """weight_scale='paper' (default) = reference taps / (2π·fs): the taps whose digital response
    approximates H(ω). Same float32 budget as above."""
    d = MGF["td"][fs]
    enc = _layer(SFIEncoder, "mgf", "td")
    w = enc.weights(int(fs)).detach().flip(-1)[:, :: d["tap_step"]] * (2 * math.pi * int(fs))
    assert _rel_to_peak(w, torch.tensor(d["weights_reversed"]), f"MGF TD paper scale x 2 pi fs {fs} Hz") < 2e-4


@pytest.mark.parametrize("fs", RATES)
def test_mgf_fd_weights(fs):
    """FD weights (reference _FreqRespSampFIRs.approximate_by_FIR, 640 frequencies) at 7 rates on
    the reference's integer tap grid. The reference computes the pseudo-inverse in float32,
    audiopipe in float64 (then float32): measured 2e-6 of each filter's peak; tolerance 1e-5
    (a few float32 ulps times the condition number of the well-conditioned 1280 x K system)."""
    d = MGF["fd"][fs]
    enc = _layer(SFIEncoder, "mgf", "fd")
    w = enc.weights(int(fs)).detach().flip(-1)
    assert w.shape[-1] == d["kernel_size"]
    assert _rel_to_peak(w[:, :: d["tap_step"]], torch.tensor(d["weights_reversed"]), f"MGF FD weights {fs} Hz") < 1e-5


@pytest.mark.parametrize("fs", ["16000", "32000"])
def test_mgf_fd_centred_grid_option_is_the_half_sample_shift(fs):
    """tap_grid='centred' (audiopipe's earlier FD grid, kept as an option) is the half-sample
    shift of the issue: far from the reference for even K, yet both fit the same H(ω)."""
    d = MGF["fd"][fs]
    enc = _layer(SFIEncoder, "mgf", "fd", tap_grid="centred")
    w = enc.weights(int(fs)).detach()
    assert _rel_to_peak(w.flip(-1)[:, :: d["tap_step"]], torch.tensor(d["weights_reversed"]),
                        f"MGF FD weights, tap_grid=centred option, {fs} Hz") > 0.5
    ref_enc = _layer(SFIEncoder, "mgf", "fd")
    f = torch.linspace(100.0, 0.4 * int(fs), 50)
    a = digital_response(w, int(fs), f, "centred")
    b = digital_response(ref_enc.weights(int(fs)).detach(), int(fs), f, ref_enc.grid)
    keep = enc.filters.center_frequencies() < 0.3 * int(fs)
    assert ((a - b).abs()[keep].max() / b.abs()[keep].max()).item() < 0.05


# --------------------------------------------------------------------- multiphase gammatone (MPGTF)
def test_mpgtf_initialisation():
    """Centre frequencies, phase counts and phases of the small bank (24 filters, 4 centres) and
    of the paper's bank (440 filters, 96 centres; configs/model/sfi_convtasnet_td_mpgtf.yaml).
    Both round the float64 ERB spacing / linspace to float32: 1 ulp (rtol 2e-7, atol 1e-7)."""
    small = make_filters("mpgtf", 24, MPGTF_PARAMS)
    ref_fc = torch.tensor(MPGTF["filters_fc"])
    _report("MPGTF init centre frequencies (Hz)", small.fc, ref_fc, ((small.fc - ref_fc).abs() / ref_fc).max().item())
    np.testing.assert_allclose(small.fc.numpy(), MPGTF["filters_fc"], rtol=2e-7)
    np.testing.assert_allclose(small.phase.numpy(), MPGTF["filters_phase"], rtol=2e-7, atol=1e-7)
    paper = make_filters("mpgtf", 440, {"freq_range": (50.0, 16000.0), "n_center": 96, "trainable": True})
    pb = MPGTF["paper_bank"]
    fc, counts = torch.unique_consecutive(paper.fc.detach()[:220], return_counts=True)
    np.testing.assert_allclose(fc.numpy(), pb["center_freqs_in_hz"], rtol=2e-7)
    assert counts.tolist() == pb["n_phase_variations"]
    np.testing.assert_allclose(paper.phase.detach()[:220].numpy(), pb["phases_first_half"], rtol=2e-7, atol=1e-7)


def test_mpgtf_impulse_response():
    """Analog impulse response (reference compute_gammatone_impulse_response, float64) on 41
    times in [0, 10 ms]. audiopipe evaluated in float64 too: the JSON's 9 significant digits
    bound the difference (5e-10 relative); tolerance 1e-8 of the bank peak."""
    bank = make_filters("mpgtf", 24, MPGTF_PARAMS).double()
    ir = MPGTF["impulse_response"]
    h = bank.impulse_response(torch.tensor(ir["t"], dtype=torch.float64))[ir["filters"]]
    ref = torch.tensor(ir["h"], dtype=torch.float64)
    assert _rel_to_max(h, ref, "MPGTF impulse response") < 1e-8


def test_mpgtf_frequency_response():
    """audiopipe's closed-form H(ω) against the Fourier integral of the reference impulse
    response (trapezoid, dt = 1/8 MHz; its own discretisation error, stored as 'precision', is
    6e-10). audiopipe returns complex64: 6e-8 relative; tolerance 1e-6 of each filter's peak."""
    bank = make_filters("mpgtf", 24, MPGTF_PARAMS).double()
    fr = MPGTF["frequency_response"]
    assert fr["precision"] < 1e-8
    H = bank.frequency_response(2 * math.pi * torch.tensor(fr["f_hz"], dtype=torch.float64))[fr["filters"]]
    ref = torch.complex(torch.tensor(fr["real"], dtype=torch.float64), torch.tensor(fr["imag"], dtype=torch.float64))
    rel = ((H - ref).abs().amax(1) / ref.abs().amax(1)).max().item()
    assert _report("MPGTF frequency response", H, ref, rel) < 1e-6


@pytest.mark.parametrize("fs", RATES)
def test_mpgtf_td_weights(fs):
    """TD weights (reference MultiPhaseGammaToneFilters.get_impulse_responses: t = k/fs with
    k = 1..K for even K, RMS-normalised to the largest filter, masked below the training rate)
    with weight_scale='reference' (no 1/fs). float32 on both sides; the phase 2π f t stays below
    2π·16 kHz·5 ms = 503 rad but both sides compute t = k/fs the same way: measured 3e-7 of each
    filter's peak; tolerance 2e-6."""
    d = MPGTF["td"][fs]
    enc = _layer(SFIEncoder, "mpgtf", "td", weight_scale="reference")
    w = enc.weights(int(fs)).detach().flip(-1)
    assert w.shape[-1] == d["kernel_size"]
    ref = torch.tensor(d["weights_reversed"])
    assert _rel_to_peak(w[:: d["filter_step"], :: d["tap_step"]], ref, f"MPGTF TD weights {fs} Hz") < 2e-6


def test_mpgtf_td_weights_paper_bank():
    """The paper's bank (440 filters, 96 centres, 50 Hz-16 kHz) at 32 kHz: the RMS normalisation
    runs over the whole bank, so every 22nd filter is compared. Budget as above."""
    pb = MPGTF["paper_bank"]["td_32000"]
    enc = SFIEncoder(440, 160, 80, 32000, "mpgtf", {"freq_range": (50.0, 16000.0), "n_center": 96,
                                                    "trainable": True}, design="td", weight_scale="reference")
    w = enc.weights(32000).detach().flip(-1)[:: pb["filter_step"], :: pb["tap_step"]]
    assert _rel_to_peak(w, torch.tensor(pb["weights_reversed"]), "MPGTF TD weights, paper bank, 32000 Hz") < 2e-6


def test_mpgtf_analytic_gain_option():
    """gain='analytic' with tap_grid='causal_zero' (audiopipe's earlier gammatone, kept as an
    option) gives every filter a peak gain of about 1 instead of the reference's RMS gains."""
    bank = make_filters("mpgtf", 24, {**MPGTF_PARAMS, "gain": "analytic"})
    f = torch.linspace(20.0, 20000.0, 4000)
    H = bank.frequency_response(2 * math.pi * f).abs()
    assert torch.all((H.amax(1) > 0.9) & (H.amax(1) < 1.2))
    assert tap_times(4, 1.0, "causal_zero").tolist() == [0, 1, 2, 3]
    assert tap_times(4, 1.0, "causal").tolist() == [1, 2, 3, 4]
    assert tap_times(5, 1.0, "causal").tolist() == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------- layers on real recordings
def _segment(fixtures_dir: Path, case: dict) -> torch.Tensor:
    x, fs = sf.read(fixtures_dir / case["fixture"], dtype="float32", always_2d=True)
    assert fs == case["sampling_rate"]
    seg = x[case["start"]: case["start"] + case["num_samples"], case["channel"]]
    return torch.from_numpy(np.ascontiguousarray(seg))[None, None]


LAYER_CONFIG = {
    "fd_mgf_music_44100": ("mgf", "fd", {}),
    "td_mgf_music_44100": ("mgf", "td", {"weight_scale": "reference"}),
    "fd_mgf_speech_16000": ("mgf", "fd", {}),
    "td_mpgtf_speech_16000": ("mpgtf", "td", {"weight_scale": "reference"}),
}


@pytest.mark.parametrize("name", list(LAYER_CONFIG))
def test_encoder_and_decoder_on_real_recordings(name, fixtures_dir):
    """Reference FreqRespSampConv1d/ImpRespSampConv1d (encoder, padding (K-S)//2) and their
    transposed versions (decoder of relu(latent)) on 0.1 s of real music (MUSDB18 sample, 44.1
    kHz: K = 220, S = 110) and real speech (CEC2 excerpt, 16 kHz: K = 80, S = 40). audiopipe's
    encoder does not pad, so the test pads; its decoder (default decoder_taps='reversed', the
    reference's transposed convolution with the time-reversed kernel) is used with
    decoder_gain='none' and cropped like the reference's. Measured: 2.4e-6 (TD-MGF latent),
    4.5e-6 (TD-MGF output), <= 1e-6 (others) of the largest value; budget: the weight
    differences above (up to 2e-4 of a filter's peak at single TD-MGF taps, 2e-6 FD) and float32
    accumulation over K <= 220 taps (~sqrt(K)·6e-8); tolerance 5e-5 (TD-MGF), 1e-5 (others)."""
    case = LAYERS["cases"][name]
    kind, design, kw = LAYER_CONFIG[name]
    fs, k, s, pad = case["sampling_rate"], case["kernel_size"], case["stride"], case["padding"]
    enc = _layer(SFIEncoder, kind, design, **kw)
    dec = _layer(SFIDecoder, kind, design, decoder_gain="none", **kw)
    assert enc.sizes(fs) == (k, s) and pad == (k - s) // 2
    x = _segment(fixtures_dir, case)
    with torch.no_grad():
        z = enc(F.pad(x, (pad, pad)), fs)
        y = dec(torch.relu(z), fs)[..., pad: -pad]
    tol = 5e-5 if name == "td_mgf_music_44100" else 1e-5
    zref = torch.tensor(case["latent"])
    zs = case["latent_filter_step"]
    assert z.shape[-1] == zref.shape[-1]
    assert _rel_to_max(z[0, ::zs], zref, f"encoder latent {name}") < tol
    yref = torch.tensor(case["output"])
    assert y.shape[-1] == case["output_length"]
    assert _rel_to_max(y[0, 0, :: case["output_step"]], yref, f"decoder output {name}") < tol
    if name == "fd_mgf_speech_16000":  # the earlier synthesis with h(t) is far from the reference
        fwd = _layer(SFIDecoder, kind, design, decoder_gain="none", decoder_taps="forward", **kw)
        with torch.no_grad():
            y_fwd = fwd(torch.relu(z), fs)[..., pad: -pad]
        assert _rel_to_max(y_fwd[0, 0, :: case["output_step"]], yref,
                           "decoder output, decoder_taps=forward option, fd_mgf_speech_16000") > 0.5
