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


def recipe_settings(recipe):
    """Settings of a recipe's plans chosen by --config select=..., else by <recipe>.select."""
    section = config[recipe]
    plans = load_plans(section)
    selector = config.get("select") or ""
    if selector:
        # keep the terms that name this recipe's plans (or no plan at all)
        terms = [t for t in selector.split(":") if "/" not in t or t.split("/")[0] in plans]
        terms = [t for t in terms if "=" in t or t in plans]
        selector = ":".join(t + ("/" if t in plans else "") for t in terms)
    if not selector:
        selector = ":".join(t + ("/" if t in plans else "") for t in section.get("select", "").split(":") if t)
    return select_settings(plans, selector or None)


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
