"""A new recipe is a plug-in: a toy recipe written into a temporary copy of the project — the
recipe module, its rules file and its schema, taken verbatim from docs/adding-a-recipe.md, plus
its params section — runs end to end: CLI, DAG with a selector, plan table, DVC stage; and the
code provenance works on it: editing its stage reruns its jobs (a docstring edit does not), DVC
sees the change and `dvc repro` reruns what it affects."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

DOC = REPO / "docs" / "adding-a-recipe.md"


def doc_files() -> dict[str, str]:
    """``file: <path>`` -> text of each code block of the walk-through."""
    out = {}
    for block in re.findall(r"```(?:python|yaml)\n(.*?)```", DOC.read_text(), re.S):
        m = re.match(r"# file: (\S+)(?: \(append\))?\n", block)
        if m:
            out[m.group(1)] = block[m.end():]
    return out


def run(cmd, cwd, env, ok=True):
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if ok:
        assert res.returncode == 0, f"{cmd}: {res.stdout[-2500:]} {res.stderr[-2500:]}"
    return res


@pytest.fixture(scope="module")
def project(fixtures_dir, tmp_path_factory):
    """A copy of the tracked project files with the toy recipe added."""
    proj = tmp_path_factory.mktemp("toy") / "project"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (REPO / f).is_file():
            (proj / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / f, proj / f)
    before = {str(p.relative_to(proj)) for p in proj.rglob("*") if p.is_file()}
    blocks = doc_files()
    assert set(blocks) == {"src/audiopipe/recipes/toy.py", "workflow/rules/toy.smk",
                           "workflow/schemas/toy.schema.yaml", "params.yaml"}
    for path, text in blocks.items():
        if path == "params.yaml":
            params = (proj / path).read_text().replace("fixtures: ../shared/fixtures", f"fixtures: {fixtures_dir}")
            (proj / path).write_text(params + "\n" + text)
        else:
            (proj / path).write_text(text)
    after = {str(p.relative_to(proj)) for p in proj.rglob("*") if p.is_file()}
    # the recipe adds exactly three files (and its params section)
    assert after - before == {"src/audiopipe/recipes/toy.py", "workflow/rules/toy.smk",
                              "workflow/schemas/toy.schema.yaml"}
    # as a user with the venv activated: dvc runs `snakemake`
    env = {**os.environ, "PYTHONPATH": str(proj / "src"), "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("AUDIOPIPE_FIXTURES", None)
    return proj, env


def snakemake(proj, env, *args, ok=True):
    return run([sys.executable, "-m", "snakemake", "--cores", "2", *args], proj, env, ok)


def test_toy_recipe_end_to_end(project):
    proj, env = project
    # CLI from the registry
    res = run([sys.executable, "-m", "audiopipe", "toy", "level", "--help"], proj, env)
    assert "--gain_db" in res.stdout and "Gain applied before measuring (dB)" in res.stdout
    res = run([sys.executable, "-m", "audiopipe", "plan", "toy", "-s", "gains/gain_db=-6.0,6.0"], proj, env)
    assert res.stdout.split() == ["results/toy/gains/gain_db=-6.0/", "results/toy/gains/gain_db=6.0/"]

    # the DAG with a selector: the generic corpus rules, two settings, the plan table
    sel = ["--config", "recipes=[toy]", "select=gains/gain_db=-6.0,6.0"]
    res = snakemake(proj, env, *sel)
    table = json.loads((proj / "results/toy/gains/table.json").read_text())
    assert sorted(table) == ["gain_db=-6.0", "gain_db=6.0"]
    assert table["gain_db=6.0"]["level_dbfs"] - table["gain_db=-6.0"]["level_dbfs"] == pytest.approx(12.0)
    assert table["gain_db=6.0"]["level_dbfs_n"] == 2  # the two test recordings of the AMI demo
    assert (proj / "results/toy/gains/table.png").read_bytes()[:4] == b"\x89PNG"
    assert "Nothing to be done" in snakemake(proj, env, *sel, "-n").stdout

    # a bad selector names its term before any job
    res = snakemake(proj, env, "--config", "recipes=[toy]", "select=gains/gain_db=3.0", "-n", ok=False)
    assert res.returncode != 0 and "'3.0' is not a level of factor 'gain_db'" in res.stdout + res.stderr

    # code provenance: a docstring edit reruns nothing, a code edit reruns the toy jobs only
    mod = proj / "src/audiopipe/recipes/toy.py"
    text = mod.read_text()
    mod.write_text(text.replace("RMS level of every recording", "RMS level (power mean) of every recording"))
    assert "Nothing to be done" in snakemake(proj, env, *sel, "-n").stdout
    mod.write_text(text.replace("+ 1e-20", "+ 1e-19"))
    out = snakemake(proj, env, *sel, "-n").stdout
    assert "toy_level" in out and "Params have changed" in out
    assert "corpus_ami" not in out and "demo_ami" not in out
    mod.write_text(text)
    # audiopipe/io.py (atomic writes, audio reading, stable seeds) runs in every stage: editing its
    # code reruns every job; editing its docstrings or comments reruns none
    io = proj / "src/audiopipe/io.py"
    io_text = io.read_text()
    io.write_text(io_text.replace('"""Atomically write records as JSON lines;', '"""Write records as JSON lines, atomically;')
                  .replace("# mtime=0 keeps gzip output", "# mtime 0 keeps gzip output"))
    assert io.read_text() != io_text
    assert "Nothing to be done" in snakemake(proj, env, *sel, "-n").stdout
    io.write_text(io_text + "\n\nIO_CHANGED = True\n")
    out = snakemake(proj, env, *sel, "-n").stdout
    for rule in ("demo_ami", "corpus_ami", "toy_level", "table"):
        assert f"rule {rule}:" in out, rule
    io.write_text(io_text)
    assert "Nothing to be done" in snakemake(proj, env, *sel, "-n").stdout


def test_toy_dvc_stage(project):
    proj, env = project
    run([sys.executable, "-m", "audiopipe", "dvc-yaml"], proj, env)
    import yaml

    stage = yaml.safe_load((proj / "dvc.yaml").read_text())["stages"]["toy"]
    assert "src/audiopipe/recipes/toy.py" in stage["deps"] and "workflow/rules/toy.smk" in stage["deps"]
    assert "pyproject.toml" in stage["deps"] and "src/audiopipe/io.py" in stage["deps"]
    assert stage["params"] == ["fixtures", "select", "corpora.ami", "toy"]
    assert {next(iter(m)) for m in stage["metrics"]} == {"results/toy/gains/table.json"}
    # DVC on the toy stage: repro, clean status, a code change is seen and reruns the stage
    run(["git", "init", "-q"], proj, env)  # the copy holds the project's .dvc/ already
    dvc = [sys.executable, "-m", "dvc"]
    run(dvc + ["repro", "toy"], proj, env)
    assert "up to date" in run(dvc + ["status", "toy"], proj, env).stdout
    mod = proj / "src/audiopipe/recipes/toy.py"
    mod.write_text(mod.read_text().replace("+ 1e-20", "+ 1e-19"))
    status = run(dvc + ["status", "toy"], proj, env).stdout
    assert "toy:" in status and "src/audiopipe/recipes/toy.py" in status
    res = run(dvc + ["repro", "toy"], proj, env)
    assert "toy_level" in res.stdout + res.stderr  # the affected jobs ran again
    assert "up to date" in run(dvc + ["status", "toy"], proj, env).stdout
