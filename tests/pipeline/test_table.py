"""The one table writer: mean ± std per setting, replicates pooled, constant factors lifted,
best bold, baselines in the same table and plot, md/csv/json/png, never an empty table."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from audiopipe.pipeline.plans import Plan
from audiopipe.pipeline.registry import TableSpec
from audiopipe.pipeline.tables import higher_is_better, write_table

PLAN = Plan("grid", {"lr": [0.001, 0.003], "X": [7, 4], "norm": ["gLN"]}, {"lr": 0.001, "X": 7, "norm": "gLN"})


def _scores(folder, haspi):
    folder.mkdir(parents=True)
    pd.DataFrame({"scene": ["S1", "S2"], "haspi": haspi, "der": [0.2, 0.3]}).to_csv(folder / "scores.csv", index=False)


def test_directions():
    assert higher_is_better("haspi") and higher_is_better("SDR_vocals") and higher_is_better("accuracy")
    assert not higher_is_better("der") and not higher_is_better("mae") and not higher_is_better("mel_mse")
    assert not higher_is_better("kl", lower=("kl",))


def test_table_stats_constants_bold_baseline_and_exports(tmp_path):
    _scores(tmp_path / "toy/grid/default", [0.5, 0.7])
    _scores(tmp_path / "toy/grid/X=4", [0.8, 0.9])
    _scores(tmp_path / "toy/baseline", [0.1, 0.3])
    md = write_table("toy", PLAN, ["default", "X=4"], tmp_path, TableSpec(), baselines={"passthrough": "baseline"})
    assert "Constant: lr=0.001, norm=gLN" in md
    assert "haspi ↑" in md and "der ↓" in md
    assert "**0.850 ± 0.050**" in md  # best HASPI
    assert "| passthrough |" in md  # the baseline in the same table
    out = tmp_path / "toy/grid"
    table = json.loads((out / "table.json").read_text())
    assert table["default"]["haspi"] == pytest.approx(0.6) and table["default"]["haspi_std"] == pytest.approx(0.1)
    assert table["default"]["haspi_n"] == 2 and table["passthrough"]["haspi"] == pytest.approx(0.2)
    csv = pd.read_csv(out / "table.csv")
    assert list(csv["system"]) == ["default", "X=4", "passthrough"]
    assert (out / "table.png").read_bytes()[:4] == b"\x89PNG"


def test_replicates_are_pooled_and_metrics_json_read(tmp_path):
    plan = Plan("rooms", {"task": ["DRR"], "n_rooms": [2, 8], "trial": [0, 1]}, {"task": "DRR", "n_rooms": 8, "trial": 0})
    for sid, mae in {"n_rooms=2": 3.0, "n_rooms=2+trial=1": 5.0, "default": 1.0, "trial=1": 2.0}.items():
        (tmp_path / "r/rooms" / sid).mkdir(parents=True)
        (tmp_path / "r/rooms" / sid / "metrics.json").write_text(json.dumps({"mae": mae, "n": 16, "unit": "dB"}))
    md = write_table("r", plan, [s.id for s in plan.settings()], tmp_path,
                     TableSpec(metrics=("mae",), x="n_rooms", hue="task"), replicates=("trial",))
    table = json.loads((tmp_path / "r/rooms/table.json").read_text())
    assert table["n_rooms=2"] == {"mae": 4.0, "mae_std": 1.0, "mae_n": 2}
    assert table["default"] == {"mae": 1.5, "mae_std": 0.5, "mae_n": 2}
    assert "mean ± std over trial" in md and "**1.500 ± 0.500**" in md


def test_missing_result_is_an_error_and_nothing_is_written(tmp_path):
    _scores(tmp_path / "toy/grid/default", [0.5, 0.7])
    (tmp_path / "toy/grid/table.md").write_text("a good old table\n")
    with pytest.raises(FileNotFoundError, match="X=4"):
        write_table("toy", PLAN, ["default", "X=4"], tmp_path)
    assert (tmp_path / "toy/grid/table.md").read_text() == "a good old table\n"
    with pytest.raises(ValueError, match="no setting selected"):
        write_table("toy", PLAN, [], tmp_path)


def test_best_is_bold_within_each_panel_level(tmp_path):
    """A metric shared by tasks of different units (SAR-SSL's MAE) is compared within a task."""
    plan = Plan("p", {"task": ["TDOA", "DRR"], "mode": ["finetune", "scratch"]}, {"task": "TDOA", "mode": "finetune"})
    maes = {"default": 4.0, "mode=scratch": 3.0, "task=DRR": 1.0, "mode=scratch+task=DRR": 2.0}
    for sid, mae in maes.items():
        (tmp_path / "r/p" / sid).mkdir(parents=True)
        (tmp_path / "r/p" / sid / "metrics.json").write_text(json.dumps({"mae": mae}))
    md = write_table("r", plan, list(maes), tmp_path, TableSpec(metrics=("mae",), panel="task"))
    assert "**3.000**" in md and "**1.000**" in md and "**2.000**" not in md and "**4.000**" not in md
