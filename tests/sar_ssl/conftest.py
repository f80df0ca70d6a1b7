"""Fixture-built SAR-SSL shards (see fixture_shards.py: real speech x real dEchorate RIRs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiopipe.features.stft import cache_features

from .fixture_shards import build_fixture_shards

#: a tiny network for training tests (the paper configuration is only instantiated, not trained)
TINY = dict(d_spatial=16, d_spectral=16, n_spatial_layers=1, n_spectral_layers=1,
            cnn_channels=4, conv_kernel=5, decoder_factor=1, n_heads=2)


@pytest.fixture(scope="session")
def signal_shards(fixtures_dir, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("sar_ssl_signals")
    return build_fixture_shards(fixtures_dir, out, rooms={"pretrain": 6, "train": 8, "val": 3,
                                                          "test": 3},
                                per_room=3, int16_sets=("val",))


@pytest.fixture(scope="session")
def feature_shards(signal_shards, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("sar_ssl_features")
    res = {}
    for name, p in signal_shards.items():
        res[name] = out / f"{name}.h5"
        cache_features(p, res[name])
    return res
