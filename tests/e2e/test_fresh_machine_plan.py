"""Without shared/fixtures (a fresh machine), the default DAG still plans: recipes whose demo
needs the fixtures are skipped with a warning; clarity and sar_ssl use the registry fallback."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.conftest import REPO


def test_default_dag_plans_without_fixtures(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["fixtures"] = str(tmp_path / "no-fixtures-here")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
                          "--configfile", str(tmp_path / "params.yaml"), "-n", "--cores", "1"],
                         capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    for recipe in ("transcoder", "strf", "sfi"):
        assert f"audiopipe: {recipe} skipped: corpora." in out
    assert "demo_clarity" in out and "clarity_train" in out and "sar_ssl_simulate" in out
    assert "demo_tau_urban" not in out and "demo_musdb18hq" not in out
