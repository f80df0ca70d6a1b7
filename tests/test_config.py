"""params.yaml validation: errors name the key at fault."""

from __future__ import annotations

import copy

import pytest
import yaml

from audiopipe.config import ConfigError, validate_params
from tests.conftest import REPO

SCHEMA = REPO / "workflow/schemas/params.schema.yaml"


@pytest.fixture
def params():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_default_params_are_valid(params):
    validate_params(params, SCHEMA)


def test_unknown_key_is_named(params):
    p = copy.deepcopy(params)
    p["clarity"]["train"]["learning_rate"] = 0.1
    with pytest.raises(ConfigError, match=r"clarity\.train\.learning_rate \(unknown key\)"):
        validate_params(p, SCHEMA)


def test_wrong_type_is_named(params):
    p = copy.deepcopy(params)
    p["clarity"]["model"]["N"] = "wide"
    with pytest.raises(ConfigError, match=r"clarity\.model\.N: 'wide' is not of type 'integer'"):
        validate_params(p, SCHEMA)


def test_missing_key_is_named(params):
    p = copy.deepcopy(params)
    del p["clarity"]["model"]["R"]
    with pytest.raises(ConfigError, match=r"clarity\.model\.R \(missing key\)"):
        validate_params(p, SCHEMA)


def test_missing_corpus_root_is_named(params, tmp_path):
    p = copy.deepcopy(params)
    p["corpora"]["clarity"].update(root=str(tmp_path / "nowhere"), demo=False)
    with pytest.raises(ConfigError, match=r"corpora\.clarity\.root: corpus root .*nowhere"):
        validate_params(p, SCHEMA)
    p["corpora"]["clarity"]["demo"] = True  # a demo root is built by the DAG
    validate_params(p, SCHEMA)


def test_odd_conv_tasnet_length_rejected(params):
    p = copy.deepcopy(params)
    p["clarity"]["model"]["L"] = 41
    with pytest.raises(ConfigError, match=r"clarity\.model\.L"):
        validate_params(p, SCHEMA)
