"""DVC provenance helpers: ``audiopipe data add <corpus>`` tracks a raw corpus root with DVC.

DVC owns provenance, Snakemake owns execution, and a path has exactly one owner
(``../shared/DESIGN.md``): a raw corpus is DVC's (``dvc add``), everything the DAG writes is
Snakemake's. So ``data add`` refuses a demo corpus root, which a Snakemake rule builds.
Snakemake runs with a raised ``--max-checksum-file-size`` (profiles, dvc.yaml): when a
``dvc checkout`` rewrites a tracked file with new mtime but the same bytes, Snakemake compares
the checksum it recorded and reruns nothing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path


def data_command(argv: list[str]) -> int:
    """``audiopipe data add <corpus> [--params params.yaml]``: ``dvc add`` the corpus root."""
    ap = argparse.ArgumentParser(prog="audiopipe data", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="track corpora.<corpus>.root with `dvc add`")
    add.add_argument("corpus", help="a key of `corpora:` in params.yaml, e.g. clarity")
    add.add_argument("--params", type=Path, default=Path("params.yaml"))
    a = ap.parse_args(argv)
    from audiopipe.config import load_params

    cfg = load_params(a.params)
    spec = (cfg.get("corpora") or {}).get(a.corpus)
    if spec is None:
        raise SystemExit(f"audiopipe data: corpora.{a.corpus} is not in {a.params}; "
                         f"known: {sorted(cfg.get('corpora') or {})}")
    if spec.get("demo"):
        raise SystemExit(f"audiopipe data: corpora.{a.corpus} is a demo corpus built by the DAG "
                         f"(Snakemake owns {spec['root']}); set demo: false for a real download")
    root = Path(spec["root"])
    if not root.exists():
        raise SystemExit(f"audiopipe data: corpora.{a.corpus}.root {root} does not exist")
    # the dvc next to this Python (the project's venv) first, then PATH
    here = Path(sys.executable).with_name("dvc")
    dvc = str(here) if here.is_file() else shutil.which("dvc")
    if dvc is None:
        raise SystemExit("audiopipe data: the `dvc` command is not on PATH (activate .venv)")
    return subprocess.call([dvc, "add", str(root)])
