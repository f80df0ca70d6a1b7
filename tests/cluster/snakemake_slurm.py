"""Run the real Snakefile through the SLURM test cluster and read back what happened.

- :func:`make_profile` derives the profile for the test cluster from the user's SLURM profile
  (``workflow/profiles/slurm/config.yaml``) and the overlay ``tests/cluster/profile/config.yaml``,
  without touching either.
- :func:`run_snakemake` runs ``snakemake -s Snakefile --directory WORK --profile ...``.
- :func:`parse_log` reads a Snakemake log: every job's rule, wildcards, log files and resources,
  and the SLURM job id the plugin submitted it as.

Recipe-agnostic: nothing here names a rule or a recipe.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.conftest import REPO

USER_PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
OVERLAY = Path(__file__).parent / "profile" / "config.yaml"
TIMINGS: dict = {}  # measured times, printed at the end of the session (tests/cluster/conftest.py)


def fit_resources(res: dict, cluster, where: str, changes: list[str]) -> dict:
    """One rule's resources made to fit the test node (see ``profile/config.yaml``)."""
    out = dict(res)
    if "slurm_partition" in out:
        changes.append(f"{where}: dropped slurm_partition={out.pop('slurm_partition')}")
    per_job_mem = cluster.mem_mb // max(1, cluster.cpus)  # as many jobs at once as CPUs
    caps = {"mem_mb": per_job_mem, "cpus_per_task": 1, "cpus_per_gpu": 1}
    for key, cap in caps.items():
        v = out.get(key)
        if isinstance(v, (int, float)) and v > cap:
            out[key] = cap
            changes.append(f"{where}: {key} {v} -> {cap}")
    return out


def make_profile(cluster, out_dir: Path, user_profile: Path = USER_PROFILE, overlay: Path = OVERLAY) -> Path:
    """Write the test cluster's profile folder (``out_dir/config.yaml``); returns the folder.

    The user's partition file is kept when the test cluster has every partition it names (its
    paths are made absolute: the test runs Snakemake with ``--directory`` elsewhere); otherwise the
    test cluster's own file is used.
    """
    prof = yaml.safe_load(user_profile.read_text())
    over = yaml.safe_load(overlay.read_text()) or {}
    if prof.get("executor") != "slurm":
        raise ValueError(f"{user_profile} is not a SLURM profile (executor: {prof.get('executor')!r})")
    changes: list[str] = []
    prof["default-resources"] = fit_resources(prof.get("default-resources") or {}, cluster, "default", changes)
    prof["set-resources"] = {rule: fit_resources(res, cluster, rule, changes)
                             for rule, res in (prof.get("set-resources") or {}).items()}
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(prof.get(key), dict):
            prof[key] = {**prof[key], **value}
        else:
            prof[key] = value
    prof["default-resources"]["slurm_account"] = cluster.account
    user_parts = prof.get("slurm-partition-config")
    parts = cluster.partition_config
    if user_parts:
        path = Path(user_parts) if Path(user_parts).is_absolute() else REPO / user_parts
        names = set((yaml.safe_load(path.read_text()) or {}).get("partitions", {}))
        if names and names <= set(cluster.partitions):
            parts = path
        else:
            changes.append(f"partitions {sorted(names)} of {user_parts} are not all on the test cluster: "
                           f"its own {cluster.partition_config.name} instead")
    prof["slurm-partition-config"] = str(parts)
    out_dir.mkdir(parents=True, exist_ok=True)
    header = "".join(f"#   {c}\n" for c in changes) or "#   (nothing)\n"
    (out_dir / "config.yaml").write_text(
        f"# {user_profile} + {overlay}, fitted to the test cluster by tests/cluster/snakemake_slurm.py:\n"
        + header + yaml.safe_dump(prof, sort_keys=False))
    return out_dir


@dataclass
class Job:
    """A job block of a Snakemake log."""

    rule: str
    local: bool
    wildcards: str = ""
    jobid: str = ""
    logs: list[str] = field(default_factory=list)
    benchmark: str = ""
    resources: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """(rule, wildcards): the same job in the main log and in its SLURM job's log."""
        return self.rule, self.wildcards

    @property
    def gpus(self) -> int:
        """GPUs the job asks for: ``gpu`` or the count of a ``gres`` ``gpu[:type]:N``."""
        gpu = str(self.resources.get("gpu", "0"))
        if gpu.isdigit() and int(gpu) > 0:
            return int(gpu)
        m = re.search(r"gpu(?::[^:,]+)?:(\d+)", str(self.resources.get("gres", "")))
        return int(m.group(1)) if m else 0


@dataclass
class Submission:
    """One sbatch of the plugin: a Snakemake job or group job, its SLURM job id and log."""

    snakemake_id: str
    slurm_id: str
    slurm_log: Path
    partition: str = ""
    jobs: list[Job] = field(default_factory=list)  # the jobs its SLURM log shows it ran


_HEAD = re.compile(r"^\s*(localrule|rule|checkpoint) (\S+):\s*$")
_FIELD = re.compile(r"^\s+(\w+): (.*)$")
_SUBMIT = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (.+)\)\.\s*$")
_PARTITION = re.compile(r"Auto-selected partition '([^']+)' for job (\S+)")


def parse_jobs(text: str) -> list[Job]:
    """Job blocks (``rule X:`` and its indented fields) of a Snakemake log, group members included."""
    jobs: list[Job] = []
    cur: dict | None = None

    def close():
        if cur is not None:
            res = {}
            for item in re.split(r",\s*", cur.get("resources", "")):
                if "=" in item:
                    k, v = item.split("=", 1)
                    res[k.strip()] = v.strip()
            jobs.append(Job(cur["_rule"], cur["_kind"] == "localrule", cur.get("wildcards", ""), cur.get("jobid", ""),
                            [x.strip() for x in cur.get("log", "").split(",") if x.strip()],
                            cur.get("benchmark", ""), res))

    for line in text.splitlines():
        m = _HEAD.match(line)
        if m:
            close()
            cur = {"_kind": m.group(1), "_rule": m.group(2)}
            continue
        f = _FIELD.match(line) if cur is not None else None
        if f:
            cur.setdefault(f.group(1), f.group(2).strip())
        elif cur is not None:
            close()
            cur = None
    close()
    return jobs


def parse_submissions(text: str) -> list[Submission]:
    """The plugin's submissions in a Snakemake log, each with the partition the plugin chose for it.

    Submissions run in threads, so "Auto-selected partition ... for job NAME" lines interleave;
    each is matched to the next submission whose SLURM log folder is ``rule_NAME`` or ``group_NAME``.
    """
    subs = [Submission(s.group(1), s.group(2), Path(s.group(3)))
            for s in (_SUBMIT.search(line) for line in text.splitlines()) if s]
    for m in _PARTITION.finditer(text):
        name = m.group(2)
        for sub in subs:
            if not sub.partition and any(part in (f"rule_{name}", f"group_{name}") for part in sub.slurm_log.parts):
                sub.partition = m.group(1)
                break
    return subs


@dataclass
class Run:
    """One Snakemake invocation: exit status, output, wall time, its jobs and SLURM submissions."""

    args: tuple
    returncode: int
    output: str
    seconds: float
    jobs: list[Job] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)

    @property
    def planned(self) -> int:
        """Jobs of the DAG this run set out to run (the ``total`` of its "Job stats" table)."""
        m = re.search(r"^total\s+(\d+)\s*$", self.output, re.MULTILINE)
        return int(m.group(1)) if m else 0

    @property
    def remote_jobs(self) -> list[Job]:
        """Jobs the executor had to run (not ``localrule``s such as ``all``)."""
        return [j for j in self.jobs if not j.local]

    def submission_of(self, job: Job) -> Submission | None:
        """The SLURM job whose log shows this job ran in it."""
        return next((s for s in self.submissions if any(j.key == job.key for j in s.jobs)), None)


def run_snakemake(cluster, work: Path, profile: Path, *args: str, timeout: float = 1500,
                  snakefile: Path = REPO / "Snakefile") -> Run:
    """``snakemake -s Snakefile --directory work --configfile work/params.yaml --profile profile ARGS``.

    Jobs import this checkout's ``src`` (PYTHONPATH) and reach the cluster through ``SLURM_CONF``
    (``sbatch --export=ALL`` carries both into the jobs).
    """
    env = cluster.env
    # GPU rules ask for the test cluster's GPU type (--gpus=<type>:1), as a site sets it
    env["AUDIOPIPE_GPU_MODEL"] = cluster.gpu_type
    env.pop("AUDIOPIPE_GPU_GRES", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(work),
           "--configfile", str(work / "params.yaml"), "--profile", str(profile), *args]
    t0 = time.monotonic()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=work, check=False)
    out = res.stdout + res.stderr
    run = Run(tuple(args), res.returncode, out, time.monotonic() - t0, parse_jobs(out), parse_submissions(out))
    for sub in run.submissions:
        if sub.slurm_log.is_file():
            sub.jobs = [j for j in parse_jobs(sub.slurm_log.read_text(errors="replace")) if not j.local]
    return run


def benchmark_seconds(work: Path, job: Job) -> float | None:
    """Wall seconds of a job's command from its Snakemake benchmark file (None without one)."""
    if not job.benchmark:
        return None
    path = work / job.benchmark
    if not path.is_file():
        return None
    head, row = path.read_text().splitlines()[:2]
    return float(dict(zip(head.split("\t"), row.split("\t")))["s"])
