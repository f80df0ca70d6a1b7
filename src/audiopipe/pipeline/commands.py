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


def rule_timings(directory: Path) -> list[dict]:
    """Sum Snakemake's benchmark files per rule: where the time of a run went.

    Every rule writes its ``benchmark:`` file under ``benchmarks/out/<rule>/…`` (or
    ``benchmarks/out/<rule>.tsv`` for a rule that runs once), so the first path component names
    the rule.

    Parameters
    ----------
    directory : Path
        The benchmark folder (``benchmarks/out``).

    Returns
    -------
    list of dict
        One per rule, most expensive first: ``rule``, ``jobs``, ``wall_s`` (sum of the jobs' wall
        seconds, column ``s``), ``cpu_s`` (sum of ``cpu_time``), ``max_rss_mib`` (largest
        ``max_rss``).

    Raises
    ------
    FileNotFoundError
        If ``directory`` does not exist.
    ValueError
        If a file lacks Snakemake's ``s`` column (the file is named).
    """
    import csv

    if not directory.is_dir():
        raise FileNotFoundError(f"no benchmark folder {directory} (run the workflow first)")
    rows: dict[str, dict] = {}
    for f in sorted(directory.rglob("*.tsv")):
        rule = f.relative_to(directory).parts[0].removesuffix(".tsv")
        with f.open(newline="") as fh:
            for rec in csv.DictReader(fh, delimiter="\t"):
                if "s" not in rec:
                    raise ValueError(f"{f}: not a Snakemake benchmark file (no 's' column)")
                r = rows.setdefault(rule, {"rule": rule, "jobs": 0, "wall_s": 0.0, "cpu_s": 0.0,
                                           "max_rss_mib": 0.0})
                r["jobs"] += 1
                r["wall_s"] += float(rec["s"])
                r["cpu_s"] += float(rec.get("cpu_time") or 0.0)
                rss = rec.get("max_rss", "-")
                r["max_rss_mib"] = max(r["max_rss_mib"], float(rss) if rss not in ("", "-", "NA") else 0.0)
    return sorted(rows.values(), key=lambda r: (-r["wall_s"], r["rule"]))


def timings_command(argv: list[str]) -> int:
    """``audiopipe timings [--dir benchmarks/out] [--json]``: where a run's time went, per rule.

    Sums the benchmark files Snakemake wrote (one per job): jobs, wall seconds, CPU seconds and
    peak memory per rule, most expensive first, then the total. Wall seconds add up over jobs
    that ran in parallel, so the total exceeds the run's wall time on several cores.
    """
    ap = argparse.ArgumentParser(prog="audiopipe timings", description=timings_command.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path("benchmarks/out"), help="benchmark folder")
    ap.add_argument("--json", action="store_true", help="print JSON")
    a = ap.parse_args(argv)
    try:
        rows = rule_timings(a.dir)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"audiopipe timings: {e}") from None
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'wall s':>9}  {'CPU s':>9}  {'jobs':>4}  {'peak MiB':>8}  rule")
    for r in rows:
        print(f"{r['wall_s']:9.1f}  {r['cpu_s']:9.1f}  {r['jobs']:4d}  {r['max_rss_mib']:8.0f}  {r['rule']}")
    print(f"{sum(r['wall_s'] for r in rows):9.1f}  {sum(r['cpu_s'] for r in rows):9.1f}  "
          f"{sum(r['jobs'] for r in rows):4d}  {'':8}  total")
    return 0
