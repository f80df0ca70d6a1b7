# Shared helpers for every rule file: the audiopipe command, JSON options, plan expansion,
# GPU slots. No signal processing here (DESIGN.md: rules are wiring).
import json
import shlex
import sys

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


def recipe_targets(recipes):
    """Final files of the recipes named in params.yaml `recipes:`."""
    out = []
    for r in recipes:
        out += RECIPE_TARGETS[r]()
    return out
