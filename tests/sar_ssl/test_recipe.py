"""SAR-SSL learning recipe: plan identifiers, table/plot, CLI wiring and the Snakemake sub-DAG."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

from audiopipe import cli
from audiopipe.recipes import sar_ssl_learn as R

REPO = Path(__file__).resolve().parents[2]
PLAN = {"factors": {"task": ["TDOA", "T60"], "mode": ["finetune", "scratch"],
                    "n_rooms": [2, 8], "trial": [0, 1]},
        "default": {"task": "TDOA", "mode": "finetune", "n_rooms": 8, "trial": 0}}


def test_setting_ids_doce_style_roundtrip():
    ids = R.plan_settings(PLAN)
    assert len(ids) == 16 and len(set(ids)) == 16
    assert "default" in ids and "mode=scratch+n_rooms=2+task=T60+trial=1" in ids
    for sid in ids:
        s = R.parse_setting(sid, PLAN)
        assert R.setting_id(s, PLAN["default"]) == sid
        assert isinstance(s["n_rooms"], int)
    with pytest.raises(ValueError, match="n_rooms=3"):
        R.parse_setting("n_rooms=3", PLAN)
    with pytest.raises(ValueError, match="unknown factor"):
        R.parse_setting("lr=1", PLAN)
    with pytest.raises(ValueError, match="lacks factor"):
        R.plan_settings({"factors": {"task": ["TDOA"]}, "default": {}})
    loro = {"factors": {"task": ["DRR"], "mode": ["finetune"], "fold": [0, 1, 2]},
            "default": {"task": "DRR", "mode": "finetune", "fold": 0}}
    assert R.plan_settings(loro) == ["default", "fold=1", "fold=2"]
    assert R.parse_setting("fold=2", loro)["fold"] == 2


def test_params_plans_are_valid_and_small():
    p = yaml.safe_load((REPO / "params.yaml").read_text())["sar_ssl"]
    assert len(R.plan_settings(p["plans"]["paper"])) == 5 * 3 * 8 * 4
    assert len(R.plan_settings(p["plans"]["demo"])) <= 30
    assert p["plans"]["paper"]["factors"]["n_rooms"] == [2, 4, 8, 16, 32, 64, 128, 256]


def test_table_mean_std_and_plot(tmp_path):
    maes = {}
    for i, sid in enumerate(R.plan_settings(PLAN)):
        s = R.parse_setting(sid, PLAN)
        maes[sid] = 1.0 + i
        (tmp_path / sid).mkdir()
        (tmp_path / sid / "metrics.json").write_text(json.dumps(
            {**s, "mae": maes[sid], "unit": "s" if s["task"] == "T60" else "samples"}))
    out = tmp_path / "t.csv"
    R.table(tmp_path, PLAN, out, tmp_path / "t.md", tmp_path / "p.png")
    df = pd.read_csv(out)
    assert len(df) == 8 and (df.n_trials == 2).all()
    a = maes["n_rooms=2+task=T60"]
    b = maes["n_rooms=2+task=T60+trial=1"]
    row = df[(df.task == "T60") & (df["mode"] == "finetune") & (df.n_rooms == 2)].iloc[0]
    assert row.mae_mean == pytest.approx((a + b) / 2)
    assert row.mae_std == pytest.approx(abs(a - b) / 2 ** 0.5, rel=1e-5)
    md = (tmp_path / "t.md").read_text()
    assert "| T60 | s | 2 |" in md and "±" in md
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "default" / "metrics.json").unlink()
    with pytest.raises(FileNotFoundError, match="default"):
        R.table(tmp_path, PLAN, out, tmp_path / "t.md", tmp_path / "p.png")


def test_table_of_a_leave_one_room_out_plan(tmp_path):
    loro = {"factors": {"task": ["DRR"], "mode": ["finetune", "scratch"], "fold": [0, 1, 2]},
            "default": {"task": "DRR", "mode": "finetune", "fold": 0}}
    for i, sid in enumerate(R.plan_settings(loro)):
        (tmp_path / sid).mkdir()
        (tmp_path / sid / "metrics.json").write_text(json.dumps(
            {**R.parse_setting(sid, loro), "mae": float(i), "unit": "dB"}))
    R.table(tmp_path, loro, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "p.png")
    df = pd.read_csv(tmp_path / "t.csv")
    assert list(df["mode"]) == ["finetune", "scratch"] and (df.n_trials == 3).all()
    assert "n_rooms" not in df and list(df.mae_mean) == [2.0, 3.0]  # folds i = 0,2,4 | 1,3,5
    assert list(df.mae_std) == [2.0, 2.0]
    assert "| DRR | dB | 2 ± 2 | 3 ± 2 |" in (tmp_path / "t.md").read_text()


def test_cli_builds_stage_parsers(monkeypatch, capsys):
    monkeypatch.setitem(cli.RECIPES, "sar_ssl_learn", ("audiopipe.recipes.sar_ssl_learn", ""))
    parser = cli.build_recipe_parser("sar_ssl_learn")
    ns = parser.parse_args(["downstream", "--setting", "mode=scratch", "--plan", json.dumps(PLAN),
                            "--train", "a.h5", "b.h5", "--val", "v.h5", "--test", "t.h5",
                            "--pretrained", "m.pt", "--output", "o.json", "--config", "{}"])
    assert ns.train == [Path("a.h5"), Path("b.h5")] and ns.plan == PLAN
    with pytest.raises(SystemExit):
        parser.parse_args(["pretrain", "--help"])
    assert "Feature shards for training" in capsys.readouterr().out


@pytest.mark.slow
def test_snakemake_subdag_runs_and_resumes(signal_shards, tmp_path):
    """The rules on fixture shards: features -> pretrain -> 2 settings -> table, and a
    leave-one-room-out plan on an "ACE" set (here: the 8 dEchorate pseudo-rooms of the train
    shard); a rerun is a no-op."""
    work = tmp_path / "w"
    for name, setname in [("pretrain", "pretrain"), ("val", "val"), ("train", "train"),
                          ("test", "test"), ("train", "ace")]:
        d = work / "data/interim/sar_ssl/sim" / setname
        d.mkdir(parents=True, exist_ok=True)
        (d / "shard-0000.h5").symlink_to(signal_shards[name])
    p = {"sar_ssl": yaml.safe_load((REPO / "params.yaml").read_text())["sar_ssl"]}
    p["sar_ssl"]["pretrain"]["sets"]["train"]["shards"] = 1
    p["sar_ssl"]["pretrain"].update(epochs=1, batch_size=6,
                                    model=dict(d_spatial=16, d_spectral=16, n_spatial_layers=1,
                                               n_spectral_layers=1, cnn_channels=4,
                                               conv_kernel=5, decoder_factor=1, n_heads=2))
    p["sar_ssl"]["downstream"].update(max_epochs=2, examples_per_room=2,
                                      run_plans=["tiny", "tiny_loro"])
    p["sar_ssl"]["plans"]["tiny_loro"] = {
        "factors": {"task": ["DRR"], "mode": ["scratch"], "fold": [0, 1]},
        "default": {"task": "DRR", "mode": "scratch", "fold": 0}}
    p["sar_ssl"]["plans"]["tiny"] = {
        "factors": {"task": ["TDOA"], "mode": ["finetune", "scratch"], "n_rooms": [2],
                    "trial": [0]},
        "default": {"task": "TDOA", "mode": "finetune", "n_rooms": 2, "trial": 0}}
    (work / "params.yaml").write_text(yaml.safe_dump(p))
    (work / "Snakefile").write_text(textwrap.dedent(f"""
        configfile: "params.yaml"
        include: "{REPO / 'workflow/rules/common.smk'}"
        include: "{REPO / 'workflow/rules/sar_ssl_learn.smk'}"
        rule all:
            input: rules.sar_ssl_learn_all.input
    """))
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--resources", "gpu=1", "-q"]
    r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = work / "results/sar_ssl/tiny"
    df = pd.read_csv(res / "table.csv")
    assert set(df["mode"]) == {"finetune", "scratch"} and (df.mae_mean > 0).all()
    assert (res / "mae_vs_rooms.png").is_file() and (res / "mode=scratch/metrics.json").is_file()
    loro = pd.read_csv(work / "results/sar_ssl/tiny_loro/table.csv")
    assert len(loro) == 1 and loro.n_trials.iloc[0] == 2
    m = json.loads((work / "results/sar_ssl/tiny_loro/fold=1/metrics.json").read_text())
    assert m["test_room"] not in m["train_rooms"] and m["n_test"] == 3
    r = subprocess.run(cmd + ["-n"], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr


def test_fixed_sets_plan_settings_and_table(tmp_path):
    """A plan with its own `sets` (LOCATA's TDOA) needs only task and mode; its table has one
    row per task x mode and its plot one bar per mode."""
    plan = {"sets": {k: {"set": f"locata-{k}", "shards": 1} for k in ("train", "val", "test")},
            "factors": {"task": ["TDOA"], "mode": ["finetune", "scratch"], "trial": [0, 1]},
            "default": {"task": "TDOA", "mode": "finetune", "trial": 0}}
    ids = R.plan_settings(plan)
    assert ids == ["default", "trial=1", "mode=scratch", "mode=scratch+trial=1"]
    for i, sid in enumerate(ids):
        (tmp_path / sid).mkdir()
        (tmp_path / sid / "metrics.json").write_text(json.dumps(
            {**R.parse_setting(sid, plan), "mae": 1.0 + i, "unit": "samples"}))
    R.table(tmp_path, plan, tmp_path / "t.csv", tmp_path / "t.md", tmp_path / "p.png")
    df = pd.read_csv(tmp_path / "t.csv")
    assert list(df["mode"]) == ["finetune", "scratch"] and list(df.mae_mean) == [1.5, 3.5]
    assert "| TDOA | samples | 1.5 ± 0.71 | 3.5 ± 0.71 |" in (tmp_path / "t.md").read_text()
    ds = {k: {"set": k, "shards": 1} for k in ("train", "val", "test")}
    ds["real"] = {"set": "ace", "shards": 2}
    assert R.plan_sets(plan, ds) == plan["sets"]
    assert R.plan_sets(PLAN, ds) == {k: ds[k] for k in ("train", "val", "test")}
    loro = {"factors": {"task": ["DRR"], "mode": ["scratch"], "fold": [0]}, "default": {"task": "DRR", "mode": "scratch"}}
    assert R.plan_sets(loro, ds) == {"train": {"set": "ace", "shards": 2}}
    bad = {**plan, "sets": {"train": plan["sets"]["train"]}}
    with pytest.raises(ValueError, match=r"plan sets lack \['val', 'test'\]"):
        R.plan_settings(bad)
    with pytest.raises(ValueError, match="lacks factor"):
        R.plan_settings({"factors": {"task": ["TDOA"], "mode": ["scratch"]},
                         "default": {"task": "TDOA", "mode": "scratch"}})
