"""SI-SDR against its closed form, and uPIT on known permutations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from audiopipe.metrics.sisdr import pit_si_sdr_loss, si_sdr


def _orthogonal_pair(n=8000, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, generator=g, dtype=torch.float64)
    e = torch.randn(n, generator=g, dtype=torch.float64)
    s, e = s - s.mean(), e - e.mean()
    e = e - (e @ s) / (s @ s) * s  # orthogonal to s
    return s, e


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 12.0, 30.0])
def test_si_sdr_closed_form(snr_db):
    s, e = _orthogonal_pair()
    e = e / e.norm() * s.norm() * 10 ** (-snr_db / 20)
    assert si_sdr(s + e, s).item() == pytest.approx(snr_db, abs=1e-6)


def test_si_sdr_is_scale_invariant():
    s, e = _orthogonal_pair()
    est = s + 0.3 * e
    assert si_sdr(7.5 * est, s).item() == pytest.approx(si_sdr(est, s).item(), abs=1e-6)
    assert si_sdr(est, 0.01 * s).item() == pytest.approx(si_sdr(est, s).item(), abs=1e-6)


def test_si_sdr_shape_mismatch():
    with pytest.raises(ValueError, match="shapes differ"):
        si_sdr(torch.zeros(3, 10), torch.zeros(3, 11))


@pytest.mark.parametrize("n_src", [2, 3])
def test_pit_recovers_every_permutation(n_src):
    torch.manual_seed(0)
    refs = torch.randn(1, n_src, 2, 4000)
    for perm in itertools.permutations(range(n_src)):
        # estimate k is reference perm[k] plus a little noise
        est = refs[:, list(perm)] + 0.05 * torch.randn_like(refs)
        loss, best = pit_si_sdr_loss(est, refs)
        # reference j is matched by the estimate k with perm[k] == j
        expected = [perm.index(j) for j in range(n_src)]
        assert best[0].tolist() == expected
        assert loss.item() < -20  # ~26 dB SI-SDR at this noise level


def test_pit_loss_equals_mean_negative_si_sdr_of_best_assignment():
    torch.manual_seed(1)
    refs = torch.randn(4, 2, 3000)
    est = torch.stack([refs[:, 1] + 0.5 * torch.randn(4, 3000), refs[:, 0] + 0.1 * torch.randn(4, 3000)], 1)
    loss, best = pit_si_sdr_loss(est, refs)
    assert (best == torch.tensor([1, 0])).all()
    direct = -(si_sdr(est[:, 1], refs[:, 0]) + si_sdr(est[:, 0], refs[:, 1])).mean() / 2
    assert loss.item() == pytest.approx(direct.item(), rel=1e-6)
    assert np.isfinite(loss.item())
