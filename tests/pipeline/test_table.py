"""Result tables: mean ± std per setting, constant factors lifted, best bold, exports."""

from __future__ import annotations

import json

import pandas as pd

from audiopipe.plans.table import collect, export, higher_is_better

SECTION = {"plans": {"grid": {"factors": {"lr": [0.001, 0.003], "X": [7, 4], "norm": ["gLN"]},
                              "default": {"lr": 0.001, "X": 7, "norm": "gLN"}}}}


def _write(results, setting, haspi):
    d = results / "clarity" / "grid" / setting
    d.mkdir(parents=True)
    pd.DataFrame({"scene": ["S1", "S2"], "haspi": haspi, "der": [0.2, 0.3], "seconds": [1, 2]}).to_csv(d / "scores.csv", index=False)


def test_directions():
    assert higher_is_better("haspi") and higher_is_better("sdr_vocals") and higher_is_better("accuracy")
    assert not higher_is_better("der") and not higher_is_better("mae_t60") and not higher_is_better("mel_mse")


def test_table_stats_constants_and_bold(tmp_path):
    _write(tmp_path, "default", [0.5, 0.7])
    _write(tmp_path, "X=4", [0.8, 0.9])
    df, const = collect("clarity", SECTION, None, tmp_path)
    assert list(df["setting"]) == ["default", "X=4"]  # settings without results are skipped
    assert df.loc[0, "haspi"] == 0.6 and abs(df.loc[0, "haspi_std"] - 0.1) < 1e-12 and df.loc[0, "haspi_n"] == 2
    assert "seconds" not in df.columns
    assert const == {"plan": "grid", "lr": 0.001, "norm": "gLN"}
    md = export("clarity", SECTION, tmp_path / "tables", None, tmp_path)
    assert "Constant: plan=grid, lr=0.001, norm=gLN" in md
    assert "haspi ↑" in md and "der ↓" in md
    assert "**0.850 ± 0.050**" in md  # best HASPI
    assert "**0.250 ± 0.050**" in md  # equal DER: both best
    for ext in ("md", "csv", "png"):
        assert (tmp_path / "tables" / f"clarity.{ext}").stat().st_size > 0
    assert (tmp_path / "tables" / "clarity.png").read_bytes()[:4] == b"\x89PNG"


def test_table_selector_and_metrics_json(tmp_path):
    d = tmp_path / "clarity" / "grid" / "lr=0.003"
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({"haspi": 0.4, "haspi_std": 0.02, "n": 5}))
    _write(tmp_path, "default", [0.5, 0.7])
    df, _ = collect("clarity", SECTION, "grid/lr=0.003", tmp_path)
    assert list(df["setting"]) == ["lr=0.003"] and df.loc[0, "haspi_n"] == 5
