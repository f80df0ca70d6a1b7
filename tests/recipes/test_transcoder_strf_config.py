"""Params files of the transcoder and STRF recipes: schemas, plans and setting identifiers."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from audiopipe.cli import build_recipe_parser
from audiopipe.recipes._plans import parse_setting_id, plan_settings, setting_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("recipe", ["transcoder", "strf"])
def test_params_validate_and_unknown_keys_fail(recipe):
    params = {recipe: yaml.safe_load((ROOT / "params.yaml").read_text())[recipe]}
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / f"{recipe}.schema.yaml").read_text())
    jsonschema.validate(params, schema)
    bad = {recipe: yaml.safe_load((ROOT / "params.yaml").read_text())[recipe]}
    bad[recipe]["unknown_key"] = 1
    with pytest.raises(jsonschema.ValidationError, match="unknown_key"):
        jsonschema.validate(bad, schema)
    first = next(iter(bad[recipe]["plans"].values()))
    first["factors"][next(iter(first["factors"]))].append("nonsense")
    del bad[recipe]["unknown_key"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_plan_settings_ids():
    tc = yaml.safe_load((ROOT / "params.yaml").read_text())["transcoder"]
    sets = plan_settings(tc)
    ids = [sid for _, sid, _ in sets]
    assert len(ids) == 8 == len(set(ids))
    assert "default" in ids and "classifier=YamNet+target=logits+transcoder=pinv" in ids
    default = tc["plans"]["paper"]["default"]
    for _, sid, s in sets:
        assert parse_setting_id(sid, default) == s
    assert setting_id({"b": 1, "a": 2}, {"a": 2}) == "b=1"
    with pytest.raises(ValueError, match="not canonical"):
        parse_setting_id("transcoder=pinv+classifier=YamNet", default)
    with pytest.raises(ValueError, match="factor=value"):
        parse_setting_id("depth=3", default)


@pytest.mark.parametrize("recipe,stages", [("transcoder", {"demo", "prepare", "features", "teacher", "setting", "summarise",
                                                           "prepare-sonyc", "downstream", "downstream-table"}),
                                           ("strf", {"prepare", "features", "setting", "summarise"})])
def test_cli_builds(recipe, stages):
    parser = build_recipe_parser(recipe)
    sub = next(a for a in parser._actions if a.dest == "stage")
    assert set(sub.choices) == stages
