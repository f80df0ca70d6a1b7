"""SAR-SSL recipe: plan kinds and their checks, the shard sets each kind reads, the params plans."""

from __future__ import annotations

import pytest
import yaml

from audiopipe.pipeline.plans import Plan, load_plans
from audiopipe.pipeline.registry import get
from audiopipe.recipes import _sar_ssl_learn as R
from audiopipe.recipes import sar_ssl as S
from tests.conftest import REPO

PLAN = Plan("grid", {"task": ["TDOA", "T60"], "mode": ["finetune", "scratch"], "n_rooms": [2, 8], "trial": [0, 1]},
            {"task": "TDOA", "mode": "finetune", "n_rooms": 8, "trial": 0})


def test_params_plans_are_valid_and_small():
    section = yaml.safe_load((REPO / "params.yaml").read_text())["sar_ssl"]
    plans = load_plans(section)
    get("sar_ssl").check_plans(section, plans)
    assert len(plans["paper"].settings()) == 5 * 3 * 8 * 4
    assert plans["paper"].factors["n_rooms"] == [2, 4, 8, 16, 32, 64, 128, 256]
    # the demo plan covers the paper's five downstream tasks
    assert set(plans["demo"].factors["task"]) == {"TDOA", "DRR", "T60", "C50", "ABS"}
    assert {R.plan_kind(p) for p in plans.values()} == {"rooms", "sets", "loro"}


def test_plan_checks_name_what_is_missing():
    decl = get("sar_ssl")
    decl.check_plans({}, {"grid": PLAN})
    with pytest.raises(ValueError, match=r"sar_ssl.plans.x: a rooms plan needs factor\(s\) \['mode', 'trial'\]"):
        decl.check_plans({}, {"x": Plan("x", {"task": ["TDOA"], "n_rooms": [2]}, {"task": "TDOA", "n_rooms": 2})})
    with pytest.raises(ValueError, match="not a factor of sar_ssl"):
        decl.check_plans({}, {"x": Plan("x", {"lr": [1.0]})})
    with pytest.raises(ValueError, match="level.*'XYZ'.*not allowed"):
        decl.check_plans({}, {"x": Plan("x", {"task": ["XYZ"], "mode": ["scratch"], "fold": [0]},
                                        {"task": "XYZ", "mode": "scratch", "fold": 0})})
    with pytest.raises(ValueError, match="unknown key"):
        decl.check_plans({}, {"x": Plan("x", {"task": ["TDOA"], "mode": ["scratch"]},
                                        {"task": "TDOA", "mode": "scratch"}, {"sats": {}})})


def test_set_kinds_and_names():
    section = yaml.safe_load((REPO / "params.yaml").read_text())["sar_ssl"]
    assert S.set_kind(section, "pretrain") == "simulated"
    assert S.set_kind(section, "downstream-rooms2-trial1") == "simulated"
    assert S.set_kind(section, "dechorate") == "measured" and S.set_kind(section, "locata-test") == "locata"
    with pytest.raises(KeyError, match="no data set 'nope'"):
        S.set_kind(section, "nope")
    assert S.shard_files(S.FEATURES, "val", 2) == ["data/features/sar_ssl/val/shard-0000.h5",
                                                   "data/features/sar_ssl/val/shard-0001.h5"]


def test_fixed_sets_plans_and_plan_sets():
    """A plan with its own `sets` (LOCATA's TDOA) needs only task and mode; plan_sets gives each
    kind of plan its shard sets."""
    sets = {k: {"set": f"locata-{k}", "shards": 1} for k in ("train", "val", "test")}
    plan = Plan("fixed", {"task": ["TDOA"], "mode": ["finetune", "scratch"], "trial": [0, 1]},
                {"task": "TDOA", "mode": "finetune", "trial": 0}, {"sets": sets})
    R.check_plan(plan)
    assert R.plan_kind(plan) == "sets"
    ds = {k: {"set": k, "shards": 1} for k in ("train", "val", "test")}
    ds["real"] = {"set": "ace", "shards": 2}
    assert R.plan_sets(plan, ds) == sets
    assert R.plan_sets(PLAN, ds) == {k: ds[k] for k in ("train", "val", "test")}
    loro = Plan("loro", {"task": ["DRR"], "mode": ["scratch"], "fold": [0]}, {"task": "DRR", "mode": "scratch", "fold": 0})
    assert R.plan_sets(loro, ds) == {"train": {"set": "ace", "shards": 2}}
    bad = Plan("fixed", plan.factors, plan.default, {"sets": {"train": sets["train"]}})
    with pytest.raises(ValueError, match=r"sets lack \['val', 'test'\]"):
        R.check_plan(bad)
