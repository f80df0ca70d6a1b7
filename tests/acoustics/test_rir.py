"""RIR backends: analytic direct path, agreement with pyroomacoustics, T60 of the tail, guards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiopipe.acoustics import params as P
from audiopipe.acoustics.rir import (
    BackendUnavailableError,
    InvalidRIRError,
    backend_delay,
    check_rir,
    direct_path_rir,
    gpurir_available,
    ism_rirs,
    pyroomacoustics_rir,
    simulate_rir,
)
from audiopipe.acoustics.rooms import Room, make_room

FS = 16000
MICS = [[2.0, 2.0, 1.5], [2.1, 2.0, 1.5]]
SRC = [4.0, 3.0, 1.6]


def _anechoic_room():
    r = make_room([6, 4, 3], 0.5, MICS, SRC)
    return Room(**{**r.__dict__, "alpha": np.ones(6), "beta": np.zeros(6)})


def test_anechoic_ism_is_the_direct_path():
    room = _anechoic_room()
    h = ism_rirs([room], FS, diffuse_tail=False, hpf_hz=0, dtype=torch.float64)[0]
    d = np.linalg.norm(np.array(MICS) - np.array(SRC), axis=1)
    for m in range(2):
        n = int(np.argmax(np.abs(h[m])))
        assert abs(n - d[m] / 343.0 * FS) <= 0.5
        assert np.sum(h[m]) == pytest.approx(1 / (4 * np.pi * d[m]), rel=1e-3)  # DC gain of the pulse
    dp = direct_path_rir(room, FS, h.shape[1])
    assert np.allclose(h, dp, atol=1e-6)
    # TDOA: peak difference matches the geometric TDOA
    assert P.tdoa(np.array(MICS), SRC, 343.0, FS)[1] == pytest.approx(
        float(np.argmax(np.abs(h[1])) - np.argmax(np.abs(h[0]))), abs=1.0)


def test_low_order_reflections_match_pyroomacoustics():
    """Without the tail, the image sources equal pyroomacoustics' (same high-pass), order <= 2."""
    room = make_room([6, 4, 3], 0.5, MICS, SRC)
    ref = pyroomacoustics_rir(room, FS, max_order=2)[:, 40:] / (4 * np.pi)  # pra: 1/d, 40-sample delay
    ours = ism_rirs([room], FS, diffuse_tail=False, dtype=torch.float64)[0]
    # first 9 ms hold only orders <= 2 here (nearest 3rd-order image arrives later)
    n = int(0.009 * FS)
    err = np.sum((ours[:, :n] - ref[:, :n]) ** 2) / np.sum(ref[:, :n] ** 2)
    assert err < 0.02


@pytest.mark.parametrize("t60", [0.3, 0.8])
def test_sabine_tail_decays_at_target_t60(t60):
    room = make_room([7, 5, 3], t60, MICS, SRC, weights=[0.6, 0.9, 0.7, 1.0, 0.5, 0.8])
    h = simulate_rir(room, FS, tail_decay="sabine")
    est = np.mean([P.t60_edc(ch, FS)[0] for ch in h])
    assert est == pytest.approx(t60, rel=0.1)
    # the high-pass removes the DC build-up of the image sources
    raw = ism_rirs([room], FS, diffuse_tail=False, hpf_hz=0)[0]
    hp = ism_rirs([room], FS, diffuse_tail=False)[0]
    assert abs(np.sum(hp[0])) < 0.1 * abs(np.sum(raw[0]))


def test_fitted_tail_follows_the_image_sources():
    """The default tail continues the image-source decay: same labels as images to 30 dB."""
    room = make_room([7, 5, 3], 0.3, MICS, SRC, weights=[0.6, 0.9, 0.7, 1.0, 0.5, 0.8])
    fast = simulate_rir(room, FS, max_decay_db=60)
    ref = ism_rirs([room], FS, ism_decay_db=30, max_decay_db=60, tail_decay="sabine")[0]
    dp = direct_path_rir(room, FS)
    kw = dict(mic_pos=room.mic_pos, src_pos=room.src_pos, dims=room.dims)
    a, b = P.rir_labels(fast, dp, FS, **kw), P.rir_labels(ref, dp, FS, **kw)
    assert a["t60_s"] == pytest.approx(b["t60_s"], rel=0.1)
    assert a["c50_db"] == pytest.approx(b["c50_db"], abs=1.0)
    with pytest.raises(ValueError, match="tail_decay"):
        ism_rirs([room], FS, tail_decay="linear")


def test_labels_close_to_pyroomacoustics():
    room = make_room([6, 4, 3], 0.5, MICS, SRC)
    a, b = simulate_rir(room, FS), simulate_rir(room, FS, "pyroomacoustics")
    dpa, dpb = direct_path_rir(room, FS), direct_path_rir(room, FS, delay_offset=40)
    kw = dict(mic_pos=room.mic_pos, src_pos=room.src_pos, dims=room.dims)
    la, lb = P.rir_labels(a, dpa, FS, **kw), P.rir_labels(b, dpb, FS, **kw)
    assert la["drr_db"] == pytest.approx(lb["drr_db"], abs=1.0)
    assert la["c50_db"] == pytest.approx(lb["c50_db"], abs=1.0)
    assert la["t60_s"] == pytest.approx(lb["t60_s"], rel=0.3)


def test_batched_equals_single_and_is_deterministic():
    r1 = make_room([6, 4, 3], 0.4, MICS, SRC)
    r2 = make_room([9, 7, 3.5], 0.7, [[3, 3, 1.2], [3.15, 3.05, 1.2]], [6, 5, 1.7])
    both = ism_rirs([r1, r2], FS, diffuse_tail=False)
    for r, h in zip((r1, r2), both):
        assert np.allclose(ism_rirs([r], FS, diffuse_tail=False)[0], h, atol=1e-7)
    a = simulate_rir(r2, FS, seed=3)
    assert np.array_equal(a, simulate_rir(r2, FS, seed=3))
    assert not np.array_equal(a, simulate_rir(r2, FS, seed=4))


def test_guards():
    with pytest.raises(InvalidRIRError, match="all zeros"):
        check_rir(np.zeros((2, 10)), "test")
    h = np.ones((2, 10))
    h[1, 3] = np.nan
    with pytest.raises(InvalidRIRError, match="NaN"):
        check_rir(h)
    room = make_room([6, 4, 3], 0.5, MICS, SRC)
    with pytest.raises(ValueError, match="unknown RIR backend"):
        simulate_rir(room, FS, "raytracing")
    with pytest.raises(ValueError, match="unknown RIR backend"):
        backend_delay("raytracing")
    assert backend_delay("pyroomacoustics") == 40.0
    if not gpurir_available():
        with pytest.raises(BackendUnavailableError, match="gpuRIR"):
            simulate_rir(room, FS, "gpurir")
