"""The SLURM profile gives the expected sbatch options (checked without a cluster).

The sbatch call is built by snakemake-executor-plugin-slurm's own ``get_submit_command`` and
``set_gres_string`` for a job carrying the resources the profile sets for the rule.
"""

from __future__ import annotations

import yaml

from tests.conftest import REPO

import snakemake_executor_plugin_slurm.submit_string as slurm  # the test extra installs the plugin
from snakemake_executor_plugin_slurm.utils import set_gres_string

PROFILE = yaml.safe_load((REPO / "workflow/profiles/slurm/profile.yaml").read_text())


class Resources(dict):
    def __getattr__(self, k):
        return self[k]


class FakeJob:
    def __init__(self, rule: str, threads: int = 1, **extra):
        res = {**PROFILE["default-resources"], **PROFILE["set-resources"].get(rule, {}), **extra}
        self.resources = Resources(res)
        self.threads = threads
        self.name = rule


def sbatch(rule: str, **extra) -> str:
    job = FakeJob(rule, **extra)
    params = {"run_uuid": "u", "slurm_logfile": "log", "comment_str": rule, "account": "-A acct",
              "partition": f"-p {job.resources['slurm_partition']}", "workdir": "/w"}
    return slurm.get_submit_command(job, params) + set_gres_string(job)


def test_profile_is_a_slurm_profile():
    assert PROFILE["executor"] == "slurm"
    assert PROFILE["max-checksum-file-size"] >= 10**8


def test_training_job_asks_for_one_gpu_of_the_model():
    cmd = sbatch("clarity_train")
    assert "-p gpu" in cmd and "--gpus=a100:1" in cmd
    assert "--cpus-per-gpu=8" in cmd and "--cpus-per-task" not in cmd
    assert "-t 720" in cmd and "--mem 32000" in cmd


def test_gres_form_for_sites_without_gpus_option():
    job = FakeJob("clarity_train")
    del job.resources["gpu"], job.resources["gpu_model"]
    job.resources["gres"] = "gpu:a100:1"
    assert set_gres_string(job).strip() == "--gres=gpu:a100:1"


def test_cpu_job_uses_defaults():
    cmd = sbatch("clarity_evaluate")
    assert "-p cpu" in cmd and "--gpus" not in cmd and "--gres" not in cmd
    assert "--cpus-per-task=1" in cmd and "-t 120" in cmd and "--mem 8000" in cmd and "--ntasks=1" in cmd


def test_profile_rules_exist_in_the_workflow():
    text = "".join(p.read_text() for p in (REPO / "workflow/rules").glob("*.smk"))
    for rule in PROFILE["set-resources"]:
        assert f"rule {rule}:" in text, rule
