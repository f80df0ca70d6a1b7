"""The `audiopipe` command is built from the recipe registry (jsonargparse reads the stage
signatures and docstrings): every recipe and stage is there, `--version` works, and a recipe's
help imports neither torch nor Lightning (it stays fast; benchmarks/bench_cli.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from audiopipe import __version__
from audiopipe.cli import main
from audiopipe.pipeline.registry import recipes
from tests.conftest import REPO

RECIPES = ["clarity", "sar_ssl", "sfi", "strf", "transcoder"]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "audiopipe", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def test_registry_lists_the_five_recipes():
    assert sorted(recipes()) == RECIPES


def test_version():
    res = _run("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"audiopipe {__version__}"


def test_top_help_lists_every_recipe_stage_and_command():
    res = _run("--help")
    assert res.returncode == 0
    for name, decl in recipes().items():
        assert name in res.stdout and ", ".join(decl.stages) in res.stdout
    for cmd in ("corpus", "demo", "plan", "table", "gpu-run", "data", "dvc-yaml", "code-digest"):
        assert cmd in res.stdout


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_help_lists_its_stages_without_importing_torch(recipe):
    code = (f"import sys; from audiopipe.cli import main\n"
            f"try:\n    main(['{recipe}', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', sorted(m for m in ('torch', 'lightning', 'h5py', 'pandas', 'scipy') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stderr
    for stage in recipes()[recipe].stages:
        assert stage in res.stdout
    assert "HEAVY []" in res.stdout


def test_stage_help_gives_each_parameter_its_docstring():
    res = _run("clarity", "cache", "--help")
    assert res.returncode == 0
    assert "--sampling_rate" in res.stdout and "Training rate (Hz)" in res.stdout
    assert "--n_shards" in res.stdout and "Number of shards of the split" in res.stdout


def test_bad_stage_option_is_reported_with_its_name():
    res = _run("clarity", "cache", "--manifest", "m.jsonl.gz", "--output", "o.h5", "--shard", "0",
               "--n_shards", "x")
    assert res.returncode != 0 and "n_shards" in res.stderr


def test_unknown_recipe_is_reported():
    assert main(["nosuchrecipe"]) == 2


def test_plan_command_lists_the_selected_settings(capsys):
    assert main(["plan", "clarity", "--params", str(REPO / "params.yaml"), "-s", "size_lr/lr=0.003"]) == 0
    out = capsys.readouterr().out.split()
    assert out == ["results/clarity/size_lr/lr=0.003/", "results/clarity/size_lr/X=4+lr=0.003/"]
    assert main(["plan", "sfi", "--params", str(REPO / "params.yaml"), "--json"]) == 0
    settings = json.loads(capsys.readouterr().out)["sfi"]
    assert len(settings) == 12 and {s["plan"] for s in settings} == {"rates"}
    with pytest.raises(SystemExit, match="no plan 'nope'"):
        main(["plan", "clarity", "--params", str(REPO / "params.yaml"), "-s", "nope/lr=1"])
