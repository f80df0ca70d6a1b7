"""doce-style plans: identifiers, defaults omitted, selectors (and their errors), plain values."""

from __future__ import annotations

import numpy as np
import pytest

from audiopipe.pipeline.plans import Plan, SelectorError, load_plans, parse_selector, resolve, select


def test_identifier_sorted_defaults_omitted():
    p = Plan("grid", {"lr": [0.001, 0.003], "X": [7, 4]}, {"X": 7, "lr": 0.001})
    ids = [s.id for s in p.settings()]
    assert ids == ["default", "X=4", "lr=0.003", "X=4+lr=0.003"]


def test_adding_a_factor_keeps_old_identifiers():
    old = Plan("g", {"lr": [0.001, 0.003]}, {"lr": 0.001})
    new = Plan("g", {"lr": [0.001, 0.003], "norm": ["gLN", "cLN"]}, {"lr": 0.001, "norm": "gLN"})
    assert {s.id for s in old.settings()} <= {s.id for s in new.settings()}


def test_identifier_round_trip_and_errors():
    p = Plan("g", {"lr": [0.001, 0.003], "X": [7, 4], "causal": [False, True]}, {"X": 7, "lr": 0.001, "causal": False})
    for s in p.settings():
        assert p.setting(s.id).values == s.values
    with pytest.raises(KeyError, match="no factor 'depth'"):
        p.setting("depth=3")
    with pytest.raises(KeyError, match="'0.1' is not a level of 'lr'"):
        p.setting("lr=0.1")


def test_values_are_plain_python():
    p = Plan("g", {"lr": [np.float64(0.001)], "X": [np.int64(4)]})
    (s,) = p.settings()
    assert type(s.values["lr"]) is float and type(s.values["X"]) is int
    assert s.id == "X=4+lr=0.001"


def test_selectors_follow_doce_syntax():
    plans = load_plans({"plans": {
        "a": {"factors": {"lr": [0.001, 0.003], "X": [7, 4]}, "default": {"X": 7, "lr": 0.001}},
        "b": {"factors": {"lr": [0.001, 0.01]}},
    }})
    assert [(t.recipe, t.plan, t.conditions) for t in parse_selector("a/lr=0.003+X=4:b/lr=0.01")] == [
        (None, "a", {"lr": ["0.003"], "X": ["4"]}), (None, "b", {"lr": ["0.01"]})]
    assert [(t.recipe, t.plan, t.conditions) for t in parse_selector("r/a/lr=0.001:lr=1")] == [
        ("r", "a", {"lr": ["0.001"]}), (None, None, {"lr": ["1"]})]
    assert [(s.plan, s.id) for s in select(plans, "a/X=4")] == [("a", "X=4"), ("a", "X=4+lr=0.003")]
    assert [(s.plan, s.id) for s in select(plans, "lr=0.001")] == [("a", "default"), ("a", "X=4"), ("b", "lr=0.001")]
    assert [(s.plan, s.id) for s in select(plans, "a/lr=0.001,0.003+X=7:b/")] == [
        ("a", "default"), ("a", "lr=0.003"), ("b", "lr=0.001"), ("b", "lr=0.01")]
    assert len(select(plans, None)) == 6


def test_bad_plans_rejected():
    with pytest.raises(ValueError, match="non-empty list"):
        Plan("g", {"lr": []})
    with pytest.raises(ValueError, match="unknown factor"):
        Plan("g", {"lr": [1]}, {"X": 3})
    with pytest.raises(ValueError, match="may not contain"):
        Plan("g", {"name": ["a+b"]})


def test_bare_plan_name_selects_the_whole_plan():
    plans = load_plans({"plans": {"a": {"factors": {"lr": [1, 2]}}, "b": {"factors": {"lr": [3]}}}})
    assert [(s.plan, s.id) for s in select(plans, "a")] == [("a", "lr=1"), ("a", "lr=2")]
    assert [(s.plan, s.id) for s in select(plans, "b:a/lr=2")] == [("a", "lr=2"), ("b", "lr=3")]


PLANS = {
    "clarity": load_plans({"plans": {"convtasnet": {"factors": {"lr": [0.001]}},
                                     "size_lr": {"factors": {"X": [7, 4], "lr": [0.001, 0.003]},
                                                 "default": {"X": 7, "lr": 0.001}}}}),
    "sfi": load_plans({"plans": {"rates": {"factors": {"method": ["sfi", "plain"], "sampling_rate": [8000, 16000]},
                                           "default": {"method": "sfi", "sampling_rate": 16000}}}}),
    "strf": load_plans({"plans": {"paper": {"factors": {"task": ["sad", "urban"]}, "default": {"task": "sad"}}}}),
    "sar_ssl": load_plans({"plans": {"paper": {"factors": {"task": ["TDOA", "DRR"]}, "default": {"task": "TDOA"}}}}),
}
OWN = {"clarity": "convtasnet", "sfi": "", "strf": "", "sar_ssl": ""}


@pytest.mark.parametrize("selector, message", [
    ("nosuchplan/x=1", "no plan 'nosuchplan'"),
    ("size_lr/Y=1", "plan 'size_lr' of clarity has no factor 'Y'"),
    ("size_lr/X=99", "'99' is not a level of factor 'X'"),
    ("Z=3", "any plan has no factor 'Z'"),
    ("nosuchrecipe/paper", "unknown recipe 'nosuchrecipe'"),
    ("size_lr/lr", "unknown recipe 'size_lr'.*a condition is factor=value"),
    ("size_lr/X=7/lr=1", "expected \\[recipe/\\]plan"),
])
def test_selector_errors_name_the_term(selector, message):
    with pytest.raises(SelectorError, match=message) as e:
        resolve(PLANS, selector, OWN)
    assert selector in str(e.value)


def test_a_recipe_selector_that_selects_nothing_is_an_error():
    with pytest.raises(SelectorError, match="no plan 'gone'"):
        resolve(PLANS, "", {**OWN, "strf": "gone"})
    empty = {**PLANS, "toy": {}}
    with pytest.raises(SelectorError, match="selects no setting of toy"):
        resolve(empty, "", {**OWN, "toy": ""})


def test_global_selector_applies_to_the_recipes_it_names():
    out = resolve(PLANS, "size_lr/lr=0.003", OWN)
    assert [s.id for s in out["clarity"]] == ["lr=0.003", "X=4+lr=0.003"]
    # the other recipes keep their own selection
    assert len(out["sfi"]) == 4 and len(out["strf"]) == 2
    # a plan name shared by recipes selects in each, unless the recipe is named
    out = resolve(PLANS, "paper/task=sad", OWN)
    assert [s.id for s in out["strf"]] == ["default"] and len(out["sar_ssl"]) == 2
    out = resolve(PLANS, "sar_ssl/paper/task=DRR", OWN)
    assert [s.id for s in out["sar_ssl"]] == ["task=DRR"] and len(out["strf"]) == 2
    # a bare condition applies to every recipe having the factor
    out = resolve(PLANS, "sampling_rate=8000", OWN)
    assert [s.id for s in out["sfi"]] == ["sampling_rate=8000", "method=plain+sampling_rate=8000"]
    assert [s.id for s in out["clarity"]] == ["lr=0.001"]  # clarity has no sampling_rate: its own select
