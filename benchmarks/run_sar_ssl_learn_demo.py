"""Time the SAR-SSL learning sub-DAG at demo size (default params) on fixture-built shards.

Until the acoustics rules write simulated shards, this builds shards in the shard contract from
the real fixtures (tests/sar_ssl/fixture_shards.py: speech x measured dEchorate RIRs), links them
where workflow/rules/sar_ssl_learn.smk expects them, and runs Snakemake with a stand-in for the
lead's common.smk (AUDIOPIPE, GPU_RUN, json_arg) and a CLI shim mapping ``sar_ssl`` to
``audiopipe.recipes.sar_ssl_learn``. Prints the wall time and the demo table.

    nice python benchmarks/run_sar_ssl_learn_demo.py --workdir /tmp/sar_ssl_demo --cores 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from tests.sar_ssl.fixture_shards import build_fixture_shards  # noqa: E402

SHIM = """
import sys
from audiopipe import cli
cli.RECIPES["sar_ssl"] = ("audiopipe.recipes.sar_ssl_learn", "SAR-SSL learning")
sys.exit(cli.main())
"""
COMMON = """
import json, shlex
AUDIOPIPE = "{python} {shim}"
GPU_RUN = ""
def json_arg(d):
    return shlex.quote(json.dumps(d))
"""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/sar_ssl_demo"))
    ap.add_argument("--fixtures", type=Path,
                    default=Path(os.environ.get("AUDIOPIPE_FIXTURES", REPO.parent / "shared/fixtures")))
    ap.add_argument("--cores", type=int, default=2)
    a = ap.parse_args(argv)
    w = a.workdir
    w.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    shards = build_fixture_shards(a.fixtures, w / "fixture_shards",
                                  rooms={"pretrain": 16, "preval": 4, "train": 16, "val": 4,
                                         "test": 4}, per_room=4)
    for name, path in shards.items():
        d = w / "data/interim/sar_ssl/signals" / name
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "shard-000.h5").exists():
            (d / "shard-000.h5").symlink_to(path)
    print(f"fixture shards: {time.time() - t0:.1f} s", flush=True)
    p = yaml.safe_load((REPO / "params.sar_ssl_learn.yaml").read_text())
    (w / "params.yaml").write_text(yaml.safe_dump(p))
    (w / "shim.py").write_text(SHIM)
    (w / "common.smk").write_text(COMMON.format(python=sys.executable, shim=w / "shim.py"))
    (w / "Snakefile").write_text(textwrap.dedent(f"""
        configfile: "params.yaml"
        include: "common.smk"
        include: "{REPO / 'workflow/rules/sar_ssl_learn.smk'}"
    """))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    t1 = time.time()
    subprocess.run([sys.executable, "-m", "snakemake", "sar_ssl_learn_all", "--cores",
                    str(a.cores), "--resources", "gpu=1"], cwd=w, env=env, check=True)
    print(f"snakemake sar_ssl_learn_all: {time.time() - t1:.1f} s wall", flush=True)
    for plan in p["sar_ssl"]["downstream"]["run_plans"]:
        print((w / f"results/sar_ssl/{plan}/table.md").read_text())


if __name__ == "__main__":
    main()
