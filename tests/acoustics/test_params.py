"""Label functions against analytic cases, SAR-SSL's reference procedure and a measured RIR."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
from scipy import stats

from audiopipe.acoustics import params as P
from audiopipe.acoustics.rooms import sabine_absorption, sabine_t60

FS = 16000


def _exp_decay(t60, n, rng=None):
    t = np.arange(n) / FS
    env = np.exp(-3 * np.log(10) * t / t60)
    return env * (rng.standard_normal(n) if rng is not None else 1.0)


@pytest.mark.parametrize("t60", [0.2, 0.5, 1.3])
def test_t60_of_exact_exponential_decay(t60):
    h = _exp_decay(t60, int(2 * t60 * FS))
    est, r = P.t60_edc(h, FS)
    assert est == pytest.approx(t60, rel=0.02)
    assert r < -0.99


@pytest.mark.parametrize("t60", [0.3, 0.9])
def test_t60_of_noise_with_exponential_envelope(t60):
    h = _exp_decay(t60, int(1.5 * t60 * FS), np.random.default_rng(0))
    est, _ = P.t60_edc(h, FS)
    assert est == pytest.approx(t60, rel=0.05)


def _sar_ssl_cal_rt60(edc, fs):
    """Direct transcription of SAR-SSL's loop (code_v1/common/utils_room_acoustics.py cal_rt60)."""
    best = (np.nan, 0.0)
    for s in range(-5, -20, -2):
        for d in range(-10, -30, -2):
            i0 = int(np.argmin(np.abs(edc - s)))
            i1 = int(np.argmin(np.abs(edc - (s + d))))
            if abs(i0 - i1) > 1:
                x = np.arange(len(edc))[i0:i1] / fs
                res = stats.linregress(x, edc[i0:i1])
                if abs(res.rvalue) > abs(best[1]):
                    best = (-60 / res.slope, res.rvalue)
    return best


def test_best_of_line_fits_matches_reference_loop():
    rng = np.random.default_rng(3)
    h = _exp_decay(0.6, 12000, rng) + 0.3 * _exp_decay(1.1, 12000, rng)
    edc = P.schroeder_edc_db(h)
    ours = P.t60_from_edc(edc, FS)
    ref = _sar_ssl_cal_rt60(edc, FS)
    assert ours[0] == pytest.approx(ref[0], rel=1e-6)
    assert ours[1] == pytest.approx(ref[1], abs=1e-9)


def test_best_of_line_fits_matches_reference_loop_on_simulated_rir():
    from audiopipe.acoustics.rir import simulate_rir
    from audiopipe.acoustics.rooms import make_room

    room = make_room([6, 4, 3], 0.6, [[2, 2, 1.5], [2.1, 2, 1.5]], [4, 3, 1.6])
    for h in simulate_rir(room, FS):  # zeros before the direct path: an EDC plateau
        edc = P.schroeder_edc_db(h)
        assert P.t60_from_edc(edc, FS)[0] == pytest.approx(_sar_ssl_cal_rt60(edc, FS)[0], rel=1e-6)


def test_edc_is_zero_db_at_peak_and_decreasing():
    h = _exp_decay(0.5, 8000, np.random.default_rng(1))
    e = P.schroeder_edc_db(h)
    assert e[int(np.argmax(h))] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(e) <= 1e-9)


def test_drr_two_impulses():
    h = np.zeros(4000)
    h[100], h[500] = 1.0, 0.5
    assert P.drr_db(h, FS) == pytest.approx(10 * np.log10(1 / 0.25), abs=1e-6)
    # a reflection inside +-2.5 ms (40 samples) counts as direct
    h[130] = 0.5
    assert P.drr_db(h, FS) == pytest.approx(10 * np.log10(1.25 / 0.25), abs=1e-6)
    assert P.drr_db(h, FS, window_ms=1.0) == pytest.approx(10 * np.log10(1 / 0.5), abs=1e-6)


def test_c50_boundary_at_50_ms_after_direct():
    h = np.zeros(4000)
    h[100] = 1.0
    h[100 + 800] = 0.5  # exactly 50 ms: early (SAR-SSL uses <=)
    h[100 + 801] = 0.25
    assert P.c50_db(h, FS) == pytest.approx(10 * np.log10(1.25 / 0.0625), abs=1e-6)


def test_direct_index_from_direct_path_rir():
    h = np.zeros(1000)
    h[100], h[300] = 0.4, 0.9  # a reflection stronger than the direct path
    dp = np.zeros(1000)
    dp[100] = 1.0
    assert P.direct_path_index(h, dp) == 100
    assert P.drr_db(h, FS, P.direct_path_index(h, dp)) == pytest.approx(10 * np.log10(0.16 / 0.81), abs=1e-6)


def test_tdoa_on_axis_is_spacing_over_c():
    mics = np.array([[1.0, 1.0, 1.0], [1.1, 1.0, 1.0]])
    t, n = P.tdoa(mics, [3.0, 1.0, 1.0], 343.0, FS)
    assert t == pytest.approx(-0.1 / 343.0)
    assert n == pytest.approx(-0.1 / 343.0 * FS)
    assert P.tdoa(mics, [1.05, 3.0, 1.0]) == pytest.approx(0.0, abs=1e-12)  # broadside
    with pytest.raises(ValueError, match="shape"):
        P.tdoa(np.zeros((3, 3)), [0, 0, 0])


def test_absorption_surface_conventions():
    dims, t60 = [6.0, 4.0, 3.0], 0.5
    total = P.absorption_sabine(dims, t60)
    assert P.absorption_sabine(dims, t60, surface="half") == pytest.approx(2 * total)
    # uniform walls: the Sabine alpha of every wall equals the "total" label
    alpha = sabine_absorption(dims, t60)
    assert np.allclose(alpha, total)
    assert sabine_t60(dims, alpha) == pytest.approx(t60)
    with pytest.raises(ValueError, match="surface"):
        P.absorption_sabine(dims, t60, surface="walls")


def test_measured_dechorate_rirs(fixtures_dir):
    """Real measured RIRs: |h| peaks agree with the calibrated geometry; signed peaks stay in the window."""
    m = scipy.io.loadmat(fixtures_dir / "rir/dechorate/dechorate_room011111_src1_12mics_rirs.mat")
    fs, c = float(m["fs"].squeeze()), float(m["c"].squeeze())
    rirs, mics, src = m["rirs"][:, :, 0].T, m["mics"].T, m["src"][:, 0]
    t_direct = m["T_direct"][0]
    peaks = np.array([P.direct_path_index(h, direct_path="abs") for h in rirs])
    for i, j in [(0, 1), (2, 3), (0, 7), (4, 11)]:
        geo = P.tdoa(mics[[i, j]], src, c)
        assert geo == pytest.approx(t_direct[j] - t_direct[i], abs=1e-4)  # annotation
        assert (peaks[j] - peaks[i]) / fs == pytest.approx(geo, abs=3 / fs)  # measured peaks
    # SAR-SSL's signed maximum (the default): the same sample where the pulse peaks positive; on
    # the three inverted-polarity capsules (0, 1, 4) the positive lobe after the arrival,
    # 0.26-0.42 ms late, still inside the +-2.5 ms direct-path window
    signed = np.array([P.direct_path_index(h) for h in rirs])
    inverted = rirs[np.arange(len(rirs)), peaks] < 0
    assert np.flatnonzero(inverted).tolist() == [0, 1, 4]
    assert np.array_equal(signed[~inverted], peaks[~inverted])
    late = signed[inverted] / fs - t_direct[inverted]
    assert np.all((late > 0.2e-3) & (late < 0.5e-3))
    t60 = np.array([P.t60_edc(h, fs)[0] for h in rirs])
    assert np.all((t60 > 0.05) & (t60 < 2.0))
    assert np.std(t60) / np.mean(t60) < 0.25  # one room: consistent across microphones
