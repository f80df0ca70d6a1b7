"""After `dvc checkout` rewrites a tracked raw corpus (new mtimes, same bytes) Snakemake reruns nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow

TARGETS = ["data/manifests/clarity/clarity_recordings_dev.jsonl.gz", "data/features/clarity/train_shard0.h5"]


def run(cmd, cwd, **kw):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900, **kw)
    assert res.returncode == 0, f"{cmd}: {res.stdout[-2000:]} {res.stderr[-3000:]}"
    return res.stdout + res.stderr


def snakemake(cwd, *args):
    return run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "2",
                "--max-checksum-file-size", "1000000000", *args, *TARGETS], cwd)


def test_dvc_checkout_reruns_nothing(fixtures_dir, tmp_path):
    dvc = [sys.executable, "-m", "dvc"]
    run(["git", "init", "-q"], tmp_path)
    run(dvc + ["init", "-q"], tmp_path)
    # a raw corpus in the real CEC2 layout (built from real recordings), tracked by DVC
    run([sys.executable, "-m", "audiopipe", "demo", "clarity", "--root", "data/raw/cec2", "--fixtures",
         str(fixtures_dir), "--options", '{"n_train_scenes": 3, "n_dev_scenes": 1, "listeners_per_scene": 1, '
         '"max_order": 2}'], tmp_path)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["recipes"] = ["clarity"]
    params["corpora"]["clarity"].update(root="data/raw/cec2", demo=False)
    params["clarity"]["cache"]["n_shards"] = 1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = run([sys.executable, "-m", "audiopipe", "data", "add", "clarity"], tmp_path)
    assert (tmp_path / "data/raw/cec2.dvc").is_file(), out
    snakemake(tmp_path)
    wav = tmp_path / "data/raw/cec2/clarity_data/dev/scenes/S06001_mix_CH1.wav"
    before = wav.stat().st_mtime_ns
    # a checkout that rematerialises the corpus: same bytes, new mtimes
    shutil.rmtree(tmp_path / "data/raw/cec2")
    os.sync()
    run(dvc + ["checkout", "-q"], tmp_path)
    assert wav.stat().st_mtime_ns > before
    assert wav.stat().st_mtime_ns > (tmp_path / TARGETS[0]).stat().st_mtime_ns
    out = snakemake(tmp_path, "-n")
    assert "Nothing to be done" in out, out[-3000:]


def test_data_add_refuses_demo_corpus(tmp_path):
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    res = subprocess.run([sys.executable, "-m", "audiopipe", "data", "add", "clarity"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "demo corpus built by the DAG" in res.stderr
