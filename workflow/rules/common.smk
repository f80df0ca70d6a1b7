# Shared helpers for every rule file: the audiopipe command, JSON options, plan expansion,
# GPU slots. No signal processing here (DESIGN.md: rules are wiring).
import json
import shlex
import sys
from pathlib import Path

from audiopipe.plans import load_plans, select as select_settings

# the CLI of the Python that runs Snakemake (works in a venv, a worktree or under SLURM)
AUDIOPIPE = f"{shlex.quote(sys.executable)} -m audiopipe"
# prefix of GPU jobs: takes free device slots, exports CUDA_VISIBLE_DEVICES (see plans/gpu.py)
GPU_RUN = f"{AUDIOPIPE} gpu-run --gpus"


wildcard_constraints:
    plan="(?!baseline)[^/]+",
    setting="[^/]+",
    chunk="[0-9]+",
    shard="[0-9]+",
    split="[^/_.]+",


def json_arg(obj):
    """Quote a dict as one JSON shell word (plain Python types only)."""
    return shlex.quote(json.dumps(obj, sort_keys=True))


def recipe_selector(recipe):
    """The doce selector in force for a recipe: --config select=..., else <recipe>.select.

    Terms of a global selector that name another recipe's plans are dropped; when none is left,
    the recipe's own default selection applies.
    """
    plans = load_plans(config[recipe])
    terms = [t for t in (config.get("select") or "").split(":") if t]
    terms = [t for t in terms if t.split("/")[0] in plans or ("/" not in t and "=" in t)]
    return ":".join(terms) or config[recipe].get("select", "")


def recipe_settings(recipe):
    """Settings of a recipe's plans chosen by :func:`recipe_selector`."""
    return select_settings(load_plans(config[recipe]), recipe_selector(recipe) or None)


def setting_values(recipe, plan, setting):
    """Factor levels of one setting, as plain Python values."""
    return load_plans(config[recipe])[plan].setting(setting).values


RECIPE_TARGETS = {}


def uses_fixture_demo(recipe):
    """Whether a recipe's default corpora are demo corpora cut from shared/fixtures only.

    (The clarity and sar_ssl demos fall back to the pyannote.audio wheel; these three do not.)
    """
    section = config.get(recipe, {})
    if recipe in ("transcoder", "strf"):
        return any(str(r).startswith("data/demo/") for r in section.get("corpora", {}).values())
    if recipe == "sfi":
        return bool(section.get("demo", {}).get("build"))
    return False


def runnable_recipes(recipes):
    """The recipes of `recipes:` that can run here: without shared/fixtures, those whose demo
    corpora need them are skipped with a warning (their real corpora still run)."""
    fixtures = config.get("fixtures") or ""
    if fixtures and Path(fixtures, "README.md").is_file():
        return list(recipes)
    skipped = [r for r in recipes if uses_fixture_demo(r)]
    if skipped:
        print(f"audiopipe: fixtures {fixtures!r} not found: skipping the demo runs of {', '.join(skipped)} "
              "(point their corpus roots at real data, or set `fixtures:`)", file=sys.stderr)
    return [r for r in recipes if r not in skipped]


def recipe_targets(recipes):
    """Final files of the recipes named in params.yaml `recipes:` that can run here."""
    out = []
    for r in runnable_recipes(recipes):
        out += RECIPE_TARGETS[r]()
    return out
