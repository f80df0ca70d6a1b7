"""``audiopipe plan``: the settings a selector chooses, with their result folders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def plan_command(argv: list[str]) -> int:
    """``audiopipe plan [RECIPE] [-s SELECTOR] [--params params.yaml] [--json]``.

    Lists what the DAG would build: the selected settings of every recipe (or one), each with
    its result folder, and the plans skipped because their data cannot be had here. A selector
    error is reported as the DAG reports it, naming the term.
    """
    ap = argparse.ArgumentParser(prog="audiopipe plan", description=plan_command.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recipe", nargs="?", help="one recipe (default: every recipe of params `recipes`)")
    ap.add_argument("-s", "--select", default=None,
                    help="doce selector, e.g. 'size_lr/lr=0.001' (default: params `select`)")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--json", action="store_true", help="print JSON")
    a = ap.parse_args(argv)
    from audiopipe.config import load_params
    from audiopipe.pipeline.workflow import Pipeline, PipelineError

    cfg = load_params(a.params)
    if a.select is not None:
        cfg["select"] = a.select
    try:
        pipe = Pipeline(cfg, log=lambda m: None)
    except PipelineError as e:
        raise SystemExit(f"audiopipe plan: {e}") from None
    names = [a.recipe] if a.recipe else list(cfg.get("recipes") or [])
    for r in names:
        if r not in pipe.recipes:
            raise SystemExit(f"audiopipe plan: no recipe {r!r} in {a.params} (recipes: {', '.join(pipe.recipes)})")
    if a.json:
        print(json.dumps({r: [{"plan": s.plan, "setting": s.id, "levels": s.values} for s in pipe.settings(r)]
                          for r in names}, indent=2))
        return 0
    for r in names:
        for s in pipe.settings(r):
            print(f"results/{r}/{s.plan}/{s.id}/")
        for plan, why in pipe.skipped.get(r, {}).items():
            print(f"# {r} plan {plan!r} skipped: {why}")
    return 0
