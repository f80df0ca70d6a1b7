"""Dry-run time of a plan with 10,000 settings (issue: orchestration, goal < 10 s on 2 cores).

Builds a temporary workflow whose one rule runs per setting of a doce-style plan
(4 factors x 10 levels = 10,000 settings, expanded through audiopipe.pipeline.plans exactly as the recipes
do), then times ``snakemake -n --quiet`` on it (DAG building for 10,001 jobs) and, for reference,
the plan expansion alone.

    python benchmarks/bench_dryrun.py [--levels 10] [--factors 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from audiopipe.pipeline.plans import Plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--factors", type=int, default=4)
    a = ap.parse_args()
    factors = {f"f{i}": list(range(a.levels)) for i in range(a.factors)}
    t0 = time.perf_counter()
    settings = Plan("grid", factors, {k: 0 for k in factors}).settings()
    ids = [s.id for s in settings]
    t_expand = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        Path(d, "Snakefile").write_text(textwrap.dedent(f"""
            from audiopipe.pipeline.plans import Plan
            PLAN = Plan("grid", {factors!r}, {{k: 0 for k in {list(factors)!r}}})
            IDS = [s.id for s in PLAN.settings()]
            wildcard_constraints:
                setting="[^/]+"
            rule all:
                input: expand("results/grid/{{setting}}/metrics.json", setting=IDS)
            rule run:
                output: "results/grid/{{setting}}/metrics.json"
                params: values=lambda wc: PLAN.setting(wc.setting).values
                shell: "echo {{params.values}} > {{output}}"
        """))
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "--cores", "2"], cwd=d,
                             capture_output=True, text=True)
        t_dry = time.perf_counter() - t0
        if res.returncode:
            raise SystemExit(res.stderr[-3000:])
    n = len(ids)
    print(f"settings: {n}  (plan expansion {t_expand * 1e3:.1f} ms)")
    print(f"snakemake -n --quiet: {t_dry:.2f} s for {n + 1} jobs = {t_dry / (n + 1) * 1e3:.2f} ms/job "
          f"(goal < 10 s: {'met' if t_dry < 10 else 'missed'})")


if __name__ == "__main__":
    main()
