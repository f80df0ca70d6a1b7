"""Selectors drive the DAG of every recipe: a dry run with a selector lists exactly the selected
settings' jobs; a bad or empty selector stops the run before any job, naming the term."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow

#: recipe -> (selector, the rule that runs once per setting, the settings it must list)
CASES = {
    "clarity": ("size_lr/X=4", "clarity_train", {("size_lr", "X=4"), ("size_lr", "X=4+lr=0.003")}),
    "sar_ssl": ("demo/task=DRR,C50+mode=scratch+n_rooms=2", "sar_ssl_downstream",
                {("demo", "mode=scratch+n_rooms=2+task=DRR"), ("demo", "mode=scratch+n_rooms=2+task=C50")}),
    "transcoder": ("paper/classifier=PANN+transcoder=pinv", "transcoder_setting",
                   {("paper", "transcoder=pinv"), ("paper", "target=logits+transcoder=pinv")}),
    "strf": ("paper/task=urban", "strf_setting", {("paper", "task=urban"), ("paper", "frontend=conv+task=urban")}),
    "sfi": ("rates/sampling_rate=8000", "sfi_summarize",
            {("rates", "sampling_rate=8000"), ("rates", "method=resampling+sampling_rate=8000"),
             ("rates", "method=plain+sampling_rate=8000")}),
}


@pytest.fixture(scope="module")
def workdir(fixtures_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("dag")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["fixtures"] = str(fixtures_dir)
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    return work


def snakemake(work, *args):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(work),
           "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def jobs(output: str) -> dict[str, set[tuple[str, str]]]:
    """rule -> {(plan, setting)} of the jobs a dry run lists."""
    out: dict[str, set] = {}
    rule = None
    for line in output.splitlines():
        m = re.match(r"(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
        m = re.match(r"\s+wildcards: (.*)", line)
        if m and rule:
            w = dict(kv.split("=", 1) for kv in re.split(r", (?=\w+=)", m.group(1)))
            if "plan" in w and "setting" in w:
                out.setdefault(rule, set()).add((w["plan"], w["setting"]))
    return out


@pytest.mark.parametrize("recipe", sorted(CASES))
def test_a_selector_restricts_the_jobs_of_each_recipe(workdir, recipe):
    selector, rule, expected = CASES[recipe]
    res = snakemake(workdir, "-n", "--config", f"recipes=[{recipe}]", f"select={selector}")
    assert res.returncode == 0, res.stderr[-3000:]
    listed = jobs(res.stdout)
    assert listed.get(rule) == expected
    # every per-setting job of the recipe belongs to a selected setting
    for name, settings in listed.items():
        if name != "table":
            assert settings <= expected, (name, settings - expected)


@pytest.mark.parametrize("selector, message", [
    ("nosuchplan/x=1", "selector term 'nosuchplan/x=1': no plan 'nosuchplan'"),
    ("size_lr/Y=1", "plan 'size_lr' of clarity has no factor 'Y'"),
    ("size_lr/X=99", "'99' is not a level of factor 'X' in plan 'size_lr' of clarity"),
])
def test_bad_selector_stops_before_any_job(workdir, tmp_path, selector, message):
    res = snakemake(workdir, "-n", "--config", f"select={selector}")
    assert res.returncode != 0 and message in res.stdout + res.stderr
    # a real run stops the same way, before any job wrote anything
    (tmp_path / "params.yaml").write_text((workdir / "params.yaml").read_text())
    res = snakemake(tmp_path, "--config", f"select={selector}")
    assert res.returncode != 0 and message in res.stdout + res.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".snakemake") == ["params.yaml"]


def test_recipe_selector_that_selects_nothing_stops(workdir):
    res = snakemake(workdir, "-n", "--config", "recipes=[strf]")
    assert res.returncode == 0, res.stderr[-2000:]
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["strf"]["select"] = "paper/task=sad+frontend=nope"
    (workdir / "bad.yaml").write_text(yaml.safe_dump(params))
    res = snakemake(workdir, "-n", "--configfile", str(workdir / "bad.yaml"))
    assert res.returncode != 0 and "strf.select" in res.stdout + res.stderr and "'nope'" in res.stdout + res.stderr


def test_plan_factor_that_overrides_no_key_stops(workdir):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["clarity"]["plans"]["size_lr"]["factors"]["depth"] = [2]
    (workdir / "bad.yaml").write_text(yaml.safe_dump(params))
    res = snakemake(workdir, "-n", "--configfile", str(workdir / "bad.yaml"))
    assert res.returncode != 0
    assert "clarity.plans.size_lr.factors.depth: not a factor of clarity" in res.stdout + res.stderr
