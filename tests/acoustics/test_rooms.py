"""Random rooms follow SAR-SSL's ranges and Sabine's formula."""

from __future__ import annotations

import numpy as np
import pytest

from audiopipe.acoustics.rooms import (
    RoomConfig,
    RoomSamplingError,
    make_room,
    sabine_t60,
    sample_room,
    sample_room_acoustics,
)


def test_sampled_rooms_respect_ranges():
    cfg = RoomConfig()
    rng = np.random.default_rng(0)
    for _ in range(200):
        r = sample_room(rng, cfg)
        assert np.all(r.dims >= cfg.size_min) and np.all(r.dims <= cfg.size_max)
        assert cfg.t60_range[0] <= r.t60 <= cfg.t60_range[1]
        assert sabine_t60(r.dims, r.alpha) == pytest.approx(r.t60, abs=5e-3)
        assert np.all((r.alpha > 0) & (r.alpha < 1))
        assert np.allclose(r.beta, np.sqrt(1 - r.alpha))
        # absorption proportional to the weights
        assert np.allclose(r.alpha / r.abs_weights, r.alpha[0] / r.abs_weights[0])
        assert cfg.mic_spacing_range[0] <= np.linalg.norm(r.mic_pos[1] - r.mic_pos[0]) <= cfg.mic_spacing_range[1]
        frac = r.array_pos / r.dims
        assert np.all(frac >= np.array(cfg.array_pos_min) - 1e-9) and np.all(frac <= np.array(cfg.array_pos_max) + 1e-9)
        assert np.all(r.src_pos >= cfg.min_src_wall_dist) and np.all(r.src_pos <= r.dims - cfg.min_src_wall_dist)
        assert np.linalg.norm(r.src_pos - r.array_pos) >= cfg.min_src_array_dist
        assert r.mic_pos[0, 2] == r.mic_pos[1, 2]  # array axis horizontal


def test_same_seed_same_room():
    a = sample_room(np.random.default_rng(5))
    b = sample_room(np.random.default_rng(5))
    assert a.to_dict() == b.to_dict()


def test_unreachable_t60_raises():
    cfg = RoomConfig(size_min=[14, 9, 5], size_max=[15, 10, 6], t60_range=[0.05, 0.06], max_tries=20)
    with pytest.raises(RoomSamplingError, match="reachable T60"):
        sample_room_acoustics(np.random.default_rng(0), cfg)


def test_unknown_room_key_is_named():
    with pytest.raises(KeyError, match="romo_size"):
        RoomConfig.from_dict({"romo_size": 3})


def test_make_room_checks_geometry():
    with pytest.raises(ValueError, match="outside room"):
        make_room([5, 4, 3], 0.5, [[1, 1, 1], [1.1, 1, 1]], [6, 1, 1])
    with pytest.raises(ValueError, match="below the minimum"):
        make_room([15, 10, 6], 0.05, [[1, 1, 1], [1.1, 1, 1]], [3, 3, 1])
