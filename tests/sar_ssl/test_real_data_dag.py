"""The SAR-SSL real-data plans run in the Snakemake DAG on fixture-sized corpus layouts:

* ``locata_demo``: TDOA on the LOCATA-layout demo (``audiopipe demo locata``: real speech through
  the measured dEchorate RIRs), built, prepared, segmented, featurised and learnt by the rules;
* a leave-one-room-out plan on an ACE-layout tree of three "rooms" built from REAL measured RIRs
  (the stereo audiomentations IR, two microphone pairs of dEchorate) — the ACE corpus itself is
  not public, so these rooms stand in for its seven.

and a simulated-rooms plan (MAE vs rooms). Pre-training and the simulated sets use the fixture
shards (real speech x dEchorate) to keep the test short; the ACE examples convolve the WSJ0-layout
demo speech (real speech) with those RIRs. The full Snakefile runs, with ``recipes: [sar_ssl]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from audiopipe.corpora.ace import ANNOTATION_CSV
from tests.corpora._corpora_real import audiomentations_ir, dechorate, write_wav
from tests.corpora.test_ace import _csv

from .conftest import TINY

REPO = Path(__file__).resolve().parents[2]


def _ace_tree(fixtures_dir: Path, root: Path) -> None:
    chrome, fs_c = audiomentations_ir(fixtures_dir, "stereo_impulse_response.wav")
    d = dechorate(fixtures_dir)
    rirs = {"Office_1": (chrome, fs_c), "Office_2": (d["rir"][[0, 6], :9600], 48000),
            "Meeting_Room_1": (d["rir"][[1, 7], :9600], 48000)}
    anno = {}
    for room, (h, fs) in rirs.items():
        write_wav(root / f"RIRN/Chromebook/{room}/1/Chromebook_{room}_1_RIR.wav", h, fs)
        anno[("Chromebook", room, "1")] = [(0.4, 5.0), (0.41, 4.8)]
    _csv(root / "Data" / ANNOTATION_CSV, anno)


@pytest.mark.slow
def test_real_data_and_rooms_plans_run_and_resume(fixtures_dir, signal_shards, tmp_path):
    work = tmp_path / "w"
    for name in ("pretrain", "val", "train", "test"):
        d = work / "data/interim/sar_ssl/sim" / name
        d.mkdir(parents=True)
        (d / "shard-0000.h5").symlink_to(signal_shards[name])
    _ace_tree(fixtures_dir, tmp_path / "ACE")
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p.update(recipes=["sar_ssl"], fixtures=str(fixtures_dir))
    p["corpora"]["ace"] = {"root": str(tmp_path / "ACE"), "demo": False, "arrays": ["Chromebook"]}
    sec = p["sar_ssl"]
    data, pre, ds = sec["data"], sec["pretrain"], sec["downstream"]
    data["measured"] = {"ace": {"corpus": "ace", "examples": 12, "shards": 1, "duration_s": 1.04}}
    data["locata"]["examples"] = {"train": 12, "val": 6, "test": 6}
    for k in ("pretrain", "val", "train", "test"):
        data["sets"][k]["shards"] = 1
    pre["sets"]["train"]["shards"] = 1
    pre.update(epochs=1, batch_size=6, model=TINY)
    ds.update(max_epochs=2, examples_per_room=2)
    sec["plans"]["locata_demo"]["factors"]["mode"] = ["finetune", "scratch"]
    sec["plans"]["ace_tiny"] = {"factors": {"task": ["DRR"], "mode": ["scratch"], "fold": [0, 1, 2]},
                                "default": {"task": "DRR", "mode": "scratch", "fold": 0}}
    sec["plans"]["tiny"] = {"factors": {"task": ["TDOA"], "mode": ["finetune", "scratch"], "n_rooms": [2],
                                        "trial": [0, 1]},
                            "default": {"task": "TDOA", "mode": "finetune", "n_rooms": 2, "trial": 0}}
    sec["select"] = "locata_demo:ace_tiny:tiny"
    (work / "params.yaml").write_text(yaml.safe_dump(p))
    targets = [f"results/sar_ssl/{plan}/table.md" for plan in ("locata_demo", "ace_tiny", "tiny")]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "2",
           "--resources=gpu=1"]  # one value: `--resources gpu=1 <targets>` would read the targets as resources
    r = subprocess.run(cmd + targets, cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    assert json.loads((work / "data/demo/locata/DEMO.json").read_text())["corpus"] == "locata"
    loc = pd.read_csv(work / "results/sar_ssl/locata_demo/table.csv")
    assert list(loc["mode"]) == ["finetune", "scratch"] and "n_rooms" not in loc
    assert (loc.mae > 0).all() and (loc.mae < 10).all()
    m = json.loads((work / "results/sar_ssl/locata_demo/default/metrics.json").read_text())
    assert 0 < m["mae_train_mean"] < 10  # the constant-predictor floor, in samples
    d = json.loads((work / "results/sar_ssl/locata_demo/default/details.json").read_text())
    assert (d["n_train"], d["n_val"], d["n_test"]) == (12, 6, 6) and d["unit"] == "samples"
    assert d["train_sets"] == ["data/features/sar_ssl/locata-train/shard-0000.h5"]

    ace = pd.read_csv(work / "results/sar_ssl/ace_tiny/table.csv")
    assert len(ace) == 1 and ace.mae_n.iloc[0] == 3  # pooled over the three folds
    tested = set()
    for fold in (0, 1, 2):
        sid = "default" if fold == 0 else f"fold={fold}"
        f = json.loads((work / f"results/sar_ssl/ace_tiny/{sid}/details.json").read_text())
        assert f["test_room"] not in f["train_rooms"] and f["val_room"] not in f["train_rooms"]
        tested.add(f["test_room"])
    assert len(tested) == 3  # every room is the test room once

    tiny = pd.read_csv(work / "results/sar_ssl/tiny/table.csv")
    assert list(tiny["mode"]) == ["finetune", "scratch"] and (tiny.mae_n == 2).all()
    assert (work / "results/sar_ssl/tiny/table.png").is_file()

    r = subprocess.run(cmd + ["-n"] + targets, cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr

    # without the ACE tree the leave-one-room-out plan is skipped, and named
    (tmp_path / "ACE").rename(tmp_path / "ACE.away")
    r = subprocess.run(cmd + ["-n"], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "sar_ssl plan 'ace_tiny' skipped: no data for set 'ace'" in r.stderr
    # asking for it explicitly is an error that names it, before any job
    r = subprocess.run(cmd + ["-n", "--config", "select=ace_tiny"], cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "plan 'ace_tiny' cannot run here" in r.stdout + r.stderr
