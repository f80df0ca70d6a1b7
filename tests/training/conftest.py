"""Inputs of the training tests, built once per session from the real fixtures (see inputs.py)."""

from __future__ import annotations

import pytest

from tests._torch_threads import one_torch_thread  # noqa: F401  (autouse)

from . import inputs


@pytest.fixture(scope="session")
def toy_inputs(fixtures_dir) -> dict:
    return {"fixtures": str(fixtures_dir)}


@pytest.fixture(scope="session")
def clarity_inputs(fixtures_dir, tmp_path_factory) -> dict:
    return {"clarity": str(inputs.clarity_shard(fixtures_dir, tmp_path_factory.mktemp("clarity") / "crops.h5"))}


@pytest.fixture(scope="session")
def sfi_inputs(fixtures_dir, tmp_path_factory) -> dict:
    shards = inputs.sfi_shards(fixtures_dir, tmp_path_factory.mktemp("sfi"))
    return {"sfi_train": str(shards["train"]), "sfi_valid": str(shards["valid"])}


@pytest.fixture(scope="session")
def sar_ssl_inputs(fixtures_dir, tmp_path_factory) -> dict:
    feats = inputs.sar_ssl_features(fixtures_dir, tmp_path_factory.mktemp("sar_ssl"))
    return {f"sar_{k}": str(v) for k, v in feats.items()}


@pytest.fixture(scope="session")
def transcoder_inputs(fixtures_dir, tmp_path_factory) -> dict:
    from .driver import CLASSES

    feats = inputs.transcoder_features(fixtures_dir, tmp_path_factory.mktemp("transcoder"), CLASSES)
    return {k: str(v) for k, v in feats.items()}
