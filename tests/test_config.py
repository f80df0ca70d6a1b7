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


@pytest.mark.parametrize("key, value", [
    (("compressor", "threshold"), -0.35), (("compressor", "attenuation"), -0.1), (("compressor", "attack"), -50),
    (("compressor", "release"), 0), (("compressor", "rms_buffer_size"), -0.064), (("nalr", "sampling_rate"), -44100),
])
def test_hearing_aid_values_out_of_range_are_named(params, key, value):
    p = copy.deepcopy(params)
    p["clarity"][key[0]][key[1]] = value
    with pytest.raises(ConfigError, match=rf"clarity\.{key[0]}\.{key[1]}"):
        validate_params(p, SCHEMA)


def test_recipe_list_and_sections_come_from_the_registry(params):
    from audiopipe.config import params_schema

    schema = params_schema(SCHEMA)
    assert schema["properties"]["recipes"]["items"]["enum"] == ["clarity", "sar_ssl", "sfi", "strf", "transcoder"]
    p = copy.deepcopy(params)
    p["recipes"] = ["clarity", "nosuchrecipe"]
    with pytest.raises(ConfigError, match=r"recipes\.1: 'nosuchrecipe' is not one of"):
        validate_params(p, SCHEMA)


def test_corpus_options_and_demo_options_are_checked_against_their_functions(params):
    from audiopipe.pipeline.workflow import Pipeline, PipelineError

    p = copy.deepcopy(params)
    p["corpora"]["ace"]["array"] = ["Mobile"]
    with pytest.raises(PipelineError, match=r"corpora\.ace: unknown key\(s\) \['array'\].*arrays"):
        Pipeline(p, log=lambda m: None)
    p = copy.deepcopy(params)
    p["corpora"]["clarity"]["demo"]["n_scenes"] = 3
    with pytest.raises(PipelineError, match=r"corpora\.clarity\.demo: unknown key\(s\) \['n_scenes'\]"):
        Pipeline(p, log=lambda m: None)
