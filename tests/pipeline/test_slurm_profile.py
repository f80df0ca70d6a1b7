"""Cluster resources follow the rules: under the SLURM profile every job of the default DAG that
declares `resources: gpu` lands on the GPU partition with its GPU options, every other job on the
CPU partition without them. The sbatch call is built by snakemake-executor-plugin-slurm's own
partition selection (``get_best_partition`` over the profile's partitions.yaml),
``get_submit_command`` and ``set_gres_string``, for each job as the dry run of the real DAG lists
it (rule, threads, resources)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import pytest
import snakemake_executor_plugin_slurm.submit_string as slurm  # the test extra installs the plugin
import yaml
from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file
from snakemake_executor_plugin_slurm.utils import set_gres_string

from tests.conftest import REPO

PROFILE_DIR = REPO / "workflow/profiles/slurm"
PROFILE = yaml.safe_load((PROFILE_DIR / "config.yaml").read_text())


class Resources(dict):
    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError as e:
            raise AttributeError(k) from e


class Job:
    """What the plugin reads of a job: name, threads, resources (profile defaults < rule < set-resources)."""

    def __init__(self, rule: str, threads: int, resources: dict):
        self.name, self.threads = rule, threads
        self.resources = Resources({**PROFILE["default-resources"], **resources,
                                    **PROFILE.get("set-resources", {}).get(rule, {})})


def sbatch(job: Job) -> tuple[str, str]:
    """(partition, sbatch command line) the plugin builds for a job."""
    parts = read_partition_file(REPO / PROFILE["slurm-partition-config"])
    partition = get_best_partition(parts, job, logging.getLogger("test"))
    params = {"run_uuid": "u", "slurm_logfile": "log", "comment_str": job.name, "account": "-A acct",
              "partition": f"-p {partition}", "workdir": "/w"}
    return partition, slurm.get_submit_command(job, params) + set_gres_string(job)


def dag_jobs(fixtures_dir, tmp_path, env=None) -> list[Job]:
    """Every job of the default DAG (all five recipes), from a dry run."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["fixtures"] = str(fixtures_dir)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    res = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
                          str(tmp_path), "-n", "--cores", "8"], capture_output=True, text=True, timeout=600,
                         env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs, rule, threads = [], None, 1
    for line in res.stdout.splitlines():
        m = re.match(r"(?:local)?rule (\w+):", line)
        if m:
            rule, threads = m.group(1), 1
        m = re.match(r"\s+threads: (\d+)", line)
        if m:
            threads = int(m.group(1))
        m = re.match(r"\s+resources: (.*)", line)
        if m and rule not in (None, "all"):
            r = dict(kv.split("=", 1) for kv in m.group(1).split(", "))
            r = {k: int(v) if v.isdigit() else v for k, v in r.items() if k != "tmpdir"}
            jobs.append(Job(rule, threads, r))
            rule = None
    return jobs


@pytest.fixture(scope="module")
def jobs(fixtures_dir, tmp_path_factory):
    return dag_jobs(fixtures_dir, tmp_path_factory.mktemp("slurm_dag"))


def test_profile_is_a_slurm_profile_with_partition_selection():
    assert PROFILE["executor"] == "slurm"
    assert PROFILE["max-checksum-file-size"] >= 10**8
    assert "slurm_partition" not in PROFILE["default-resources"]
    for rule, res in PROFILE["set-resources"].items():  # no GPU option kept by hand per rule
        assert not {"gpu", "gpu_model", "gres", "slurm_partition"} & set(res), rule


@pytest.mark.slow
def test_every_gpu_rule_lands_on_the_gpu_partition_with_its_gpu_options(jobs):
    gpu_rules = {j.name for j in jobs if j.resources.get("gpu")}
    # every recipe's training rules declare a GPU
    assert gpu_rules == {"clarity_train", "sar_ssl_pretrain", "sar_ssl_downstream", "sfi_train",
                         "strf_setting", "transcoder_teacher", "transcoder_setting"}
    for job in jobs:
        partition, cmd = sbatch(job)
        if job.name in gpu_rules:
            assert partition == "gpu" and "-p gpu" in cmd, (job.name, cmd)
            assert "--gpus=1" in cmd and "--cpus-per-gpu=8" in cmd and "--cpus-per-task" not in cmd, cmd
        else:
            assert partition == "cpu" and "-p cpu" in cmd, (job.name, cmd)
            assert "--gpus" not in cmd and "--gres" not in cmd and "--cpus-per-task" in cmd, cmd
    train = next(j for j in jobs if j.name == "clarity_train")
    assert "-t 720" in sbatch(train)[1] and "--mem 32000" in sbatch(train)[1]


def test_set_resources_name_rules_of_the_workflow():
    text = "".join(p.read_text() for p in (REPO / "workflow/rules").glob("*.smk"))
    for rule in PROFILE["set-resources"]:
        assert f"rule {rule}:" in text, rule


@pytest.mark.slow
def test_site_gpu_model_and_gres_reach_every_gpu_rule(fixtures_dir, tmp_path):
    import os

    env = {**os.environ, "AUDIOPIPE_GPU_MODEL": "a100"}
    for job in dag_jobs(fixtures_dir, tmp_path, env):
        if job.resources.get("gpu"):
            assert "--gpus=a100:1" in sbatch(job)[1]
    from audiopipe.pipeline.gpu import rule_resources

    job = Job("sfi_train", 2, rule_resources(1, {"AUDIOPIPE_GPU_GRES": "gpu:a100:1"}))
    partition, cmd = sbatch(job)
    assert partition == "gpu" and "--gres=gpu:a100:1" in cmd and "--gpus" not in cmd
    with pytest.raises(ValueError, match="not both"):
        rule_resources(1, {"AUDIOPIPE_GPU_MODEL": "a100", "AUDIOPIPE_GPU_GRES": "gpu:1"})
