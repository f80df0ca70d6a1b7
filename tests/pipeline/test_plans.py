"""doce-style plans: identifiers, defaults omitted, selectors, plain values."""

from __future__ import annotations

import numpy as np
import pytest

from audiopipe.plans import Plan, load_plans, parse_selector, select


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
    assert parse_selector("a/lr=0.003+X=4:b/lr=0.01") == [("a", {"lr": ["0.003"], "X": ["4"]}), ("b", {"lr": ["0.01"]})]
    assert [(s.plan, s.id) for s in select(plans, "a/X=4")] == [("a", "X=4"), ("a", "X=4+lr=0.003")]
    assert [(s.plan, s.id) for s in select(plans, "lr=0.001")] == [("a", "default"), ("a", "X=4"), ("b", "lr=0.001")]
    assert [(s.plan, s.id) for s in select(plans, "a/lr=0.001,0.003+X=7:b/")] == [
        ("a", "default"), ("a", "lr=0.003"), ("b", "lr=0.001"), ("b", "lr=0.01")]
    assert len(select(plans, None)) == 6
    with pytest.raises(KeyError, match="unknown plan 'c'"):
        select(plans, "c/lr=1")


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
