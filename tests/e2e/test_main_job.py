"""End to end: the whole main job (all five recipes) at a tiny size on the demo corpora cut from
the real fixtures: every recipe writes its tables; a second run does nothing; recomputing the
results gives the same bytes (timing files aside); a training job killed with SIGKILL mid-epoch
and rerun gives the same results as the uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO
from tests.e2e.tiny import write_tiny_params

pytestmark = pytest.mark.slow

#: recipe -> plans whose tables the tiny main job writes
TABLES = {"clarity": ["convtasnet"], "sar_ssl": ["demo", "locata_demo"], "transcoder": ["paper", "downstream"],
          "strf": ["paper"], "sfi": ["rates"]}
#: files that hold wall-clock timings (kept out of the results proper)
TIMING = ("timing.json",)  # timing.json, train_timing.json, <chunk>.timing.json


def snakemake(work: Path, *args, env=None, **kw):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "2", *args]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=2400, env=env, **kw)


@pytest.fixture(scope="module")
def main_run(fixtures_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("main_job")
    write_tiny_params(work, fixtures_dir)
    res = snakemake(work)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return work


def test_every_recipe_writes_its_tables(main_run):
    for recipe, plans in TABLES.items():
        for plan in plans:
            for ext in ("md", "csv", "json", "png"):
                assert (main_run / f"results/{recipe}/{plan}/table.{ext}").stat().st_size > 0, (recipe, plan, ext)
    clarity = json.loads((main_run / "results/clarity/convtasnet/table.json").read_text())
    assert set(clarity) == {"default", "passthrough"}  # the setting and its baseline
    sar = json.loads((main_run / "results/sar_ssl/demo/table.json").read_text())
    assert len(sar) == 4 and all(0 < v["mae"] for v in sar.values())
    assert (main_run / "results/sar_ssl/data/summary.json").is_file()
    assert (main_run / "data/interim/sar_ssl/sim/dechorate/shard-0000.h5").is_file()
    # every demo corpus records where its audio came from
    for corpus in ("clarity", "wsj0", "locata", "tau_urban", "urbansound8k", "ami", "musdb18hq"):
        assert (main_run / f"data/demo/{corpus}/DEMO.json").is_file(), corpus
    # progress of each training can be followed in its log: one line per epoch
    log = (main_run / "logs/clarity/convtasnet/default/train.log").read_text()
    assert "epoch 1/2:" in log and "epoch 2/2:" in log and "val_loss=" in log


def test_clarity_scores_reproduce_and_demo_scenes_record_real_sources(main_run, monkeypatch):
    import gzip

    import pandas as pd
    import yaml

    scores = pd.read_csv(main_run / "results/clarity/baseline/scores.csv")
    m = json.loads((main_run / "results/clarity/baseline/metrics.json").read_text())
    assert scores["haspi"].mean() == pytest.approx(m["haspi"])
    assert list(scores.columns) == ["scene", "listener", "system", "haspi", "hasqi", "combined"]
    assert set(scores["scene"]) == {"S06001", "S06002"}
    # rerunning the evaluation stage reproduces the scores exactly (md5 scene seed)
    from audiopipe.recipes import clarity

    monkeypatch.chdir(main_run)  # manifests hold paths relative to the DAG's directory
    cfg = yaml.safe_load((main_run / "params.yaml").read_text())["clarity"]
    manifest = main_run / "data/manifests/clarity/clarity_recordings_dev.jsonl.gz"
    clarity.evaluate(manifest=manifest, system="passthrough", output=main_run / "again.csv",
                     listeners=main_run / "data/demo/clarity/clarity_data/metadata/listeners.json",
                     nalr=cfg["nalr"], compressor=cfg["compressor"])
    again = pd.read_csv(main_run / "again.csv")
    assert again["haspi"].tolist() == scores["haspi"].tolist() and again["hasqi"].tolist() == scores["hasqi"].tolist()
    with gzip.open(manifest, "rt") as fh:
        recs = [json.loads(line) for line in fh]
    for r in recs:
        assert r["provenance"]["target"].startswith("fixtures/")
        assert "measured HRIRs" in r["provenance"]["renderer"]
        assert all(i["source"].startswith("fixtures/") for i in r["interferers"])
    demo = json.loads((main_run / "data/demo/clarity/DEMO.json").read_text())
    assert demo["origin"] == "fixtures"
    assert not set(demo["splits"]["dev"]["targets"]) & set(demo["splits"]["train"]["targets"])
    ck = torch.load(main_run / "results/clarity/convtasnet/default/model.pt", weights_only=False)
    assert ck["sampling_rate"] == 16000  # the rate the crops were cached at


def test_second_run_does_nothing(main_run):
    res = snakemake(main_run, "-n")
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr


def test_timings_sum_the_benchmark_file_of_every_job(main_run):
    """`audiopipe timings` reads the benchmark file each job wrote, grouped by its rule."""
    from audiopipe.pipeline.commands import rule_timings

    rows = {r["rule"]: r for r in rule_timings(main_run / "benchmarks/out")}
    assert {"clarity_train", "clarity_evaluate", "sar_ssl_downstream", "sfi_evaluate", "strf_setting",
            "transcoder_setting", "table", "demo_clarity", "corpus_clarity"} <= set(rows)
    assert rows["clarity_train"]["jobs"] == 1 and rows["clarity_train"]["wall_s"] > 0
    assert rows["table"]["jobs"] == sum(len(p) for p in TABLES.values())
    assert all(r["max_rss_mib"] > 0 for r in rows.values())
    res = subprocess.run([sys.executable, "-m", "audiopipe", "timings"], cwd=main_run, capture_output=True,
                         text=True, check=True)
    assert res.stdout.splitlines()[1].split()[-1] == next(iter(rows))  # most expensive rule first
    assert res.stdout.splitlines()[-1].split()[-1] == "total"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.endswith(TIMING)}


def test_recomputed_results_are_the_same_bytes(main_run, tmp_path):
    """Same inputs, same bytes: every file under results/ but the timing files."""
    before = _files(main_run / "results")
    shutil.move(main_run / "results", tmp_path / "first")
    res = snakemake(main_run)
    assert res.returncode == 0, res.stderr[-3000:]
    after = _files(main_run / "results")
    assert sorted(after) == sorted(before)
    differ = [f for f in before if before[f] != after[f]]
    assert not differ, differ


def _weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)["state_dict"]


def test_training_killed_mid_epoch_resumes_to_the_same_results(main_run, fixtures_dir, tmp_path):
    work = tmp_path / "killed"
    write_tiny_params(work, fixtures_dir)
    # pause the Conv-TasNet training before batch 1 of epoch 1 (its first checkpoint is written),
    # through a sitecustomize that only this run's jobs import, then SIGKILL the whole run
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os\nif os.environ.get('AUDIOPIPE_TEST_PAUSE'):\n"
        "    import torch\n    threads = torch.get_num_threads()\n"
        "    from tests.training.driver import install_pause\n"
        "    torch.set_num_threads(threads)  # the driver module sets 1 thread; the job's count matters\n"
        "    install_pause(os.environ['AUDIOPIPE_TEST_PAUSE'], os.environ['AUDIOPIPE_TEST_MARKER'])\n")
    marker = tmp_path / "paused"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(REPO), str(REPO / "src")]),
           "AUDIOPIPE_TEST_PAUSE": "batch:1:1", "AUDIOPIPE_TEST_MARKER": str(marker)}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "2",
           "--config", "recipes=[clarity]"]
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 1200
        while not marker.exists():
            assert proc.poll() is None, "the run ended before the training paused"
            assert time.time() < deadline, "the training never paused"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    setting = "results/clarity/convtasnet/default"
    assert (work / setting / "checkpoints/last.ckpt").is_file() and not (work / setting / "model.pt").exists()
    # what a user does after a crash: unlock, then the same command (incomplete jobs rerun)
    assert snakemake(work, "--unlock").returncode == 0
    res = snakemake(work, "--config", "recipes=[clarity]", "--rerun-incomplete")
    assert res.returncode == 0, res.stderr[-3000:]
    for f in ("metrics.json", "scores.csv"):
        assert (work / setting / f).read_bytes() == (main_run / setting / f).read_bytes(), f
    resumed, whole = _weights(work / setting / "model.pt"), _weights(main_run / setting / "model.pt")
    assert all(torch.equal(resumed[k], whole[k]) for k in whole)
    assert torch.load(work / setting / "model.pt", weights_only=False)["resumed"] == 1
    assert torch.load(main_run / setting / "model.pt", weights_only=False)["resumed"] == 0
    assert (work / "results/clarity/convtasnet/table.json").read_bytes() == \
        (main_run / "results/clarity/convtasnet/table.json").read_bytes()
