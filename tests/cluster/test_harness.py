"""The SLURM stage's helpers, checked without a cluster (fast; runs everywhere)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.cluster import slurm_cluster
from tests.cluster.snakemake_slurm import (
    USER_PROFILE,
    make_profile,
    parse_jobs,
    parse_submissions,
)
from tests.conftest import REPO

FAKE_CLUSTER = SimpleNamespace(cpus=2, mem_mb=22000, account="acct", partitions=("cpu", "gpu"),
                               partition_config=Path("/x/partitions.yaml"))


def test_test_profile_is_the_users_profile_fitted_to_the_test_cluster(tmp_path):
    user = yaml.safe_load(USER_PROFILE.read_text())
    prof = yaml.safe_load((make_profile(FAKE_CLUSTER, tmp_path) / "config.yaml").read_text())
    assert prof["executor"] == "slurm"
    assert "slurm_partition" not in str(prof)  # the plugin chooses from the partition file
    # the user's partition file (its partitions exist on the test cluster), as an absolute path
    assert Path(prof["slurm-partition-config"]) == REPO / user["slurm-partition-config"]
    assert prof["default-resources"]["slurm_account"] == "acct"
    assert prof["default-resources"].get("cpus_per_gpu", 1) <= 1
    for rule, res in user.get("set-resources", {}).items():
        got = prof["set-resources"][rule]
        assert got.get("runtime") == res.get("runtime"), rule  # kept as the user's profile asks
        assert got.get("mem_mb", 0) <= FAKE_CLUSTER.mem_mb // FAKE_CLUSTER.cpus
    for key in ("keep-going", "rerun-incomplete", "rerun-triggers"):
        assert prof.get(key) == user.get(key), key


def test_test_profile_falls_back_to_the_clusters_partitions(tmp_path):
    other = SimpleNamespace(**{**vars(FAKE_CLUSTER), "partitions": ("batch", "gpu")})
    prof = yaml.safe_load((make_profile(other, tmp_path) / "config.yaml").read_text())
    assert prof["slurm-partition-config"] == "/x/partitions.yaml"


LOG = """\
Execute 2 jobs...
[Fri Nov 27 16:27:01 2026] Group job g (jobs in lexicogr. order):

    [Fri Nov 27 16:27:01 2026]
    rule b:
        output: b.txt
        log: logs/b.log
        jobid: 3
        benchmark: bench/b.tsv
        wildcards: x=1, y=2
        resources: mem_mb=1000, gpu=0

rule t:
    log: logs/t.log
    jobid: 4
    resources: tmpdir=<TBD>, gpu=1, gpu_model=a100
Shell command: echo
Auto-selected partition 'gpu' for job t with score 2.500
Auto-selected partition 'cpu' for job g_b with score 1.362
Job 4 has been submitted with SLURM jobid 7 (log: /w/.snakemake/slurm_logs/rule_t/7.log).
Job f296c194-3b02 has been submitted with SLURM jobid 8 (log: /w/.snakemake/slurm_logs/group_g_b/8.log).
localrule all:
    input: b.txt
    jobid: 0
"""


def test_log_parsing():
    jobs = parse_jobs(LOG)
    assert [(j.rule, j.local) for j in jobs] == [("b", False), ("t", False), ("all", True)]
    b, t, _ = jobs
    assert b.wildcards == "x=1, y=2" and b.logs == ["logs/b.log"] and b.benchmark == "bench/b.tsv" and b.gpus == 0
    assert t.gpus == 1 and t.resources["gpu_model"] == "a100"
    subs = parse_submissions(LOG)
    assert [(s.snakemake_id, s.slurm_id, s.partition) for s in subs] == [
        ("4", "7", "gpu"), ("f296c194-3b02", "8", "cpu")]


def test_without_root_the_cluster_says_why(monkeypatch):
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 1000)
    assert "needs root" in slurm_cluster.unavailable_reason()
    with pytest.raises(slurm_cluster.ClusterUnavailable, match="needs root"):
        slurm_cluster.SlurmCluster().start()


def test_without_apt_missing_packages_say_why(monkeypatch):
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 0)
    monkeypatch.setattr(slurm_cluster, "_which", lambda name: None)
    monkeypatch.setattr(slurm_cluster.shutil, "which", lambda name, path=None: None)
    reason = slurm_cluster.unavailable_reason()
    assert "apt-get is not available" in reason and "slurmctld" in reason


def test_a_stale_configless_link_is_told_from_a_running_slurmd():
    """start() removes a /run/slurm/conf left by a killed slurmd only when no slurmd runs: it
    looks processes up by command name in /proc."""
    own = Path("/proc/self/comm").read_text().strip()
    assert slurm_cluster._process_running(own)
    assert not slurm_cluster._process_running("no-such-daemon-xyz")
