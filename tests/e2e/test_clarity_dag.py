"""End-to-end: the Clarity DAG on scenes built from the real fixtures, in a temporary directory."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _snakemake(workdir, *args):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "params.yaml"), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1500)


@pytest.fixture(scope="module")
def clarity_run(fixtures_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("clarity_dag")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["fixtures"] = str(fixtures_dir)
    params["recipes"] = ["clarity"]
    params["corpora"]["clarity"]["demo"].update(n_train_scenes=4, n_dev_scenes=2, listeners_per_scene=1, max_order=3)
    params["clarity"]["cache"].update(crop_s=0.5, crops_per_scene=2, n_shards=1, val_fraction=0.25)
    params["clarity"]["model"].update(N=16, L=8, B=16, H=32, X=2, R=1)
    params["clarity"]["train"].update(max_epochs=1, batch_size=2)
    params["clarity"]["evaluate"]["n_chunks"] = 1
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    res = _snakemake(work)
    assert res.returncode == 0, res.stderr[-4000:]
    return work


def test_table_has_the_setting_and_the_baseline(clarity_run):
    m = json.loads((clarity_run / "results/clarity/convtasnet/table.json").read_text())
    assert set(m) == {"default", "passthrough"}
    for system in ("default", "passthrough"):
        s = m[system]
        assert s["haspi_n"] == 2  # 2 dev scenes x 1 listener
        for k in ("haspi", "hasqi"):
            assert 0.0 <= s[k] <= 1.0
        assert s["combined"] == pytest.approx((s["haspi"] + s["hasqi"]) / 2)
    # the passthrough baseline and the (barely trained) network give different signals
    assert m["passthrough"]["hasqi"] != m["default"]["hasqi"]
    # the model records the rate it was trained at
    import torch

    ck = torch.load(clarity_run / "results/clarity/convtasnet/default/model.pt", weights_only=False)
    assert ck["sampling_rate"] == 16000


def test_scores_match_metrics_and_are_reproducible(clarity_run, monkeypatch):
    scores = pd.read_csv(clarity_run / "results/clarity/baseline/scores.csv")
    m = json.loads((clarity_run / "results/clarity/baseline/metrics.json").read_text())
    assert scores["haspi"].mean() == pytest.approx(m["haspi"])
    assert list(scores.columns) == ["scene", "listener", "system", "haspi", "hasqi", "combined"]
    assert set(scores["scene"]) == {"S06001", "S06002"}
    # rerunning the evaluation stage on one pair reproduces its score exactly (md5 scene seed)
    from audiopipe.recipes import clarity

    monkeypatch.chdir(clarity_run)  # manifests hold paths relative to the DAG's directory
    out = clarity_run / "again.csv"
    cfg = yaml.safe_load((clarity_run / "params.yaml").read_text())["clarity"]
    clarity.evaluate(manifest=clarity_run / "data/manifests/clarity/clarity_recordings_dev.jsonl.gz", system="passthrough",
                     output=out, listeners=clarity_run / "data/demo/clarity/clarity_data/metadata/listeners.json",
                     nalr=cfg["nalr"], compressor=cfg["compressor"])
    again = pd.read_csv(out)
    assert again["haspi"].tolist() == scores["haspi"].tolist()
    assert again["hasqi"].tolist() == scores["hasqi"].tolist()


def test_demo_scenes_record_real_sources(clarity_run, fixtures_dir):
    with gzip.open(clarity_run / "data/manifests/clarity/clarity_recordings_dev.jsonl.gz", "rt") as fh:
        recs = [json.loads(line) for line in fh]
    for r in recs:
        assert r["provenance"]["target"].startswith("fixtures/")
        assert "measured HRIRs" in r["provenance"]["renderer"]
        assert all(i["source"].startswith("fixtures/") for i in r["interferers"])
    demo = json.loads((clarity_run / "data/demo/clarity/DEMO.json").read_text())
    assert demo["origin"] == "fixtures"
    # dev targets are held back from training
    assert not set(demo["splits"]["dev"]["targets"]) & set(demo["splits"]["train"]["targets"])


def test_second_run_does_nothing(clarity_run):
    res = _snakemake(clarity_run, "-n")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Nothing to be done" in res.stdout + res.stderr


def test_table_written(clarity_run):
    table = (clarity_run / "results/clarity/convtasnet/table.md").read_text()
    assert "| passthrough |" in table and "| default |" in table and "haspi ↑" in table
