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
    assert "skipping the demo runs of transcoder, strf, sfi" in out
    assert "demo_clarity" in out and "clarity_train" in out and "sar_ssl_simulate" in out
    assert "transcoder_demo" not in out and "sfi_demo" not in out
