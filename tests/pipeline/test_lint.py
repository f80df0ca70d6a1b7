"""`snakemake --lint` on the workflow: rules are wiring (no function mixed into a rules file) and
the only hints left are the two the README explains: one virtual environment instead of conda
environments, and the command prefix (the Python that runs Snakemake) read from common.smk."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

ACCEPTED = {
    "Specify a conda environment or container for each rule.",
    "Shell command directly uses variable AUDIOPIPE from outside of the rule",
    "Shell command directly uses variable GPU_RUN from outside of the rule",
}


def test_lint_shows_no_mixed_rules_and_functions():
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(REPO),
                          "--lint"], capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    titles = {m.strip().rstrip(":") for m in re.findall(r"^\s+\* (.+?):?$", out, re.M)}
    assert "Lints for rule" in out, out[-2000:]  # the linter ran over the rules
    assert not [t for t in titles if "Mixed rules and functions" in t]
    assert titles <= ACCEPTED | {t + "." for t in ACCEPTED}, titles - ACCEPTED


def test_common_smk_has_no_rule_like_text():
    """The linter finds rules by the text `rule <anything>:` on a line: a comment in the helpers
    file written that way would make it report mixed rules and functions."""
    for i, line in enumerate((REPO / "workflow/rules/common.smk").read_text().splitlines(), 1):
        assert not re.search("rule .+?:", line), f"common.smk:{i}: {line}"


def test_every_gpu_rule_runs_through_gpu_run_with_its_gpu_log():
    """The same GPU wiring in every recipe: a rule declaring `**GPU` runs its command through
    `gpu-run` (free device slots) and writes the GPUs' usage beside its log; its benchmark file
    lies under benchmarks/out/<rule>/ (what `audiopipe timings` groups by)."""
    seen = []
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule \w+:)", smk.read_text()):
            m = re.match(r"rule (\w+):", block)
            if not m:
                continue
            name = m.group(1)
            bench = re.search(r'benchmark:\s*\n\s*f?"benchmarks/out/([^/"]+)', block)
            assert bench and bench.group(1).removesuffix(".tsv") == name, f"{smk.name}: rule {name}: benchmark path"
            if "**GPU" in block:
                seen.append(name)
                assert "{GPU_RUN} --gpu-log {log}.gpu.tsv --" in block, f"{smk.name}: rule {name}"
    assert len(seen) == 7, seen
