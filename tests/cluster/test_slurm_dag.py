"""The main job at a tiny size through a real SLURM (issue 14, item 1).

The main job's tiny params (``tests/e2e/tiny.py``) restricted to the recipes of
``AUDIOPIPE_SLURM_RECIPES`` (comma-separated, e.g. ``clarity``; default ``all``: all five, the
whole main job) run as one DAG through the test cluster (``tests/cluster/slurm_cluster.py``) with the
real Snakefile (``-s``, ``--directory``) and a profile derived from the user's SLURM profile
(``tests/cluster/snakemake_slurm.py:make_profile``): executor slurm, the test cluster's account,
partition chosen by the plugin from the profile's partitions.yaml (no per-rule ``slurm_partition``),
GPU rules asking for the fake GPUs' model (``AUDIOPIPE_GPU_MODEL``).

Three runs:

A. with a fault (``FAULTS``: a grid setting that fails at run time) and ``--keep-going``: the
   failing job is reported FAILED by SLURM and Snakemake; the other jobs still complete, some of
   them submitted after the failure;
B. the fault removed: only what is missing is submitted, and the run completes;
C. again: nothing is submitted.

Checks: every job ran inside a SLURM job (the job's rule and wildcards appear in the log of a
SLURM job whose id the plugin logged and sacct knows); every job asking for a GPU ran in partition
``gpu`` on a GPU allocation (sacct ``AllocTRES``) with ``CUDA_VISIBLE_DEVICES`` set by SLURM
(recorded from inside the job by ``audiopipe gpu-run`` in the rule's log), and GPU jobs that ran
at once held different devices; CPU jobs ran in partition ``cpu`` without a GPU.

Small jobs are grouped (``GROUPS``, Snakemake ``--groups``/``--group-components``): each SLURM job
costs ~10-25 s on the 2-core CI machine (two Snakemake start-ups inside it), more than most tiny
rules take. ``AUDIOPIPE_SLURM_GROUPS=0`` runs one SLURM job per rule.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pytest
import yaml

from tests.cluster.snakemake_slurm import (
    TIMINGS,
    Run,
    benchmark_seconds,
    make_profile,
    run_snakemake,
)
from tests.conftest import REPO
from tests.e2e.tiny import tiny_params

pytestmark = [pytest.mark.slurm, pytest.mark.slow,
              pytest.mark.timeout(3000)]


# -- recipes --------------------------------------------------------------------------------------
def clarity_fault(p: dict) -> tuple[str, str]:
    """A typo in the grid: a second learning-rate level ``0.001x`` (the plans schema takes strings).
    That setting's training stops at its first step (``float("0.001x")``), seconds before the
    default setting's training ends, whose scoring is then submitted after the failure; the
    baseline runs on too. Returns the rule and wildcards expected to fail."""
    plan = p["clarity"]["select"]
    p["clarity"]["plans"][plan]["factors"]["lr"].append("0.001x")
    return "clarity_train", f"plan={plan}, setting=lr=0.001x"


#: recipe -> a fault to inject (changes params, returns the rule and wildcards that must fail);
#: the runs use the first listed recipe that has one
FAULTS: dict[str, Callable[[dict], tuple[str, str]]] = {"clarity": clarity_fault}

#: recipe -> Snakemake groups (rule -> group): one SLURM job runs the connected jobs of a group
#: (``--groups``). Never group a GPU rule with CPU rules (the CPU rules would hold the GPU).
#: A recipe left out runs one SLURM job per rule.
GROUPS: dict[str, dict[str, str]] = {
    "clarity": {
        # demo corpus -> manifests -> training crops: one job before training
        "demo_clarity": "clarity_data", "corpus_clarity": "clarity_data", "clarity_cache": "clarity_data",
        # per system (each setting, the baseline): enhance -> evaluate -> summarize, one job each
        "clarity_enhance": "clarity_score", "clarity_evaluate": "clarity_score",
        "clarity_evaluate_baseline": "clarity_score", "clarity_summarize": "clarity_score",
    },
    "sar_ssl": {
        # demo corpora -> manifests -> simulated and measured shards -> their summary and features
        **{f"{kind}_{c}": "sar_ssl_data" for kind in ("demo", "corpus") for c in ("wsj0", "locata", "dechorate")},
        **{r: "sar_ssl_data" for r in ("sar_ssl_simulate", "sar_ssl_simulate_measured", "sar_ssl_locata_segments",
                                       "sar_ssl_summarize", "sar_ssl_features")},
    },
    # transcoder and STRF read the same clip corpora: their demos, manifests and feature caches
    "transcoder": {**{f"{kind}_{c}": "clips_data" for kind in ("demo", "corpus")
                      for c in ("ami", "tau_urban", "urbansound8k", "sonyc_ust")},
                   "transcoder_features": "clips_data", "transcoder_features_sonyc_ust": "clips_data"},
    "strf": {**{f"{kind}_{c}": "clips_data" for kind in ("demo", "corpus") for c in ("ami", "tau_urban", "urbansound8k")},
             "strf_features": "clips_data"},
    "sfi": {
        "demo_musdb18hq": "sfi_data", "corpus_musdb18hq": "sfi_data", "sfi_resample": "sfi_data",
        # per setting: BSSEval of each chunk -> the setting's summary
        "sfi_evaluate": "sfi_score", "sfi_summarize": "sfi_score",
    },
}
#: group -> how many unconnected parts of it share one SLURM job (``--group-components``)
GROUP_COMPONENTS: dict[str, int] = {}


def slurm_recipes() -> list[str]:
    """The recipes of the DAG run through SLURM: ``AUDIOPIPE_SLURM_RECIPES`` (comma-separated, or
    ``all``, the default: every recipe of params.yaml, the whole main job)."""
    value = os.environ.get("AUDIOPIPE_SLURM_RECIPES", "all").strip()
    if value == "all":
        return list(yaml.safe_load((REPO / "params.yaml").read_text())["recipes"])
    return [r for r in value.split(",") if r]


def group_args(recipes: list[str], cpus: int = 4, mem_mb: int = 16000) -> list[str]:
    """Snakemake options grouping the recipes' small jobs. A group job asks for the sum of the jobs
    that could run side by side (Snakemake >= 7.11); ``--cores``/``--resources mem_mb`` (a local
    resource: per group job) cap it at half the node (``cpus``, ``mem_mb``), so that two group
    jobs fit at once; the layers beyond the cap run one after the other inside the job."""
    groups = {r: g for recipe in recipes for r, g in GROUPS.get(recipe, {}).items()}
    if not groups or os.environ.get("AUDIOPIPE_SLURM_GROUPS") == "0":
        return []
    args = ["--groups", *(f"{r}={g}" for r, g in groups.items()),
            "--cores", str(max(1, cpus // 2)), "--resources", f"mem_mb={mem_mb // 2}"]
    components = {g: n for g, n in GROUP_COMPONENTS.items() if g in groups.values()}
    if components:
        args += ["--group-components", *(f"{g}={n}" for g, n in components.items())]
    return args


# -- the runs -------------------------------------------------------------------------------------
@dataclass
class DagRuns:
    recipes: list
    work: object
    fault: tuple[str, str]
    a: Run
    b: Run
    c: Run
    sacct: dict  # SLURM job id -> sacct record
    jobs_before_c: int
    jobs_after_c: int


SACCT_FIELDS = ("JobIDRaw", "Comment%200", "Partition", "State", "ExitCode", "Submit", "Start", "End",
                "ElapsedRaw", "AllocTRES%200")


def _all_job_ids(cluster) -> list[str]:
    res = cluster.run("sacct", "-X", "-n", "-P", "-a", "-S", "2000-01-01", "-o", "JobIDRaw")
    return [x for x in res.stdout.split() if x]


def _sacct(cluster, ids, wait_s: float = 20) -> dict:
    """sacct records of some jobs, waiting for slurmdbd to have their final state."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        recs = {r["JobIDRaw"]: r for r in cluster.sacct(ids, SACCT_FIELDS)} if ids else {}
        pending = [i for i in ids if i not in recs or recs[i]["State"] in ("PENDING", "RUNNING", "COMPLETING")
                   or recs[i]["End"] in ("", "Unknown")]
        if not pending or time.monotonic() > deadline:
            return recs
        time.sleep(1)


def _timings(d: DagRuns) -> dict:
    def per_run(run: Run) -> dict:
        overheads, rule_s = [], 0.0
        for sub in run.submissions:
            rec = d.sacct.get(sub.slurm_id)
            secs = [benchmark_seconds(d.work, j) for j in sub.jobs]
            if rec and rec["ElapsedRaw"].isdigit() and secs and None not in secs:
                overheads.append(int(rec["ElapsedRaw"]) - sum(secs))
                rule_s += sum(secs)
        return {"wall_s": round(run.seconds, 1), "slurm_jobs": len(run.submissions),
                "rules_run": sum(len(s.jobs) for s in run.submissions),
                "rule_command_s": round(rule_s, 1),
                "in_job_overhead_s_mean": round(sum(overheads) / len(overheads), 1) if overheads else None}

    return {"recipes": d.recipes, "grouped": bool(group_args(d.recipes)),
            "A_fault_keep_going": per_run(d.a), "B_after_fix": per_run(d.b), "C_rerun": per_run(d.c)}


@pytest.fixture(scope="module")
def slurm_dag(slurm_cluster, fixtures_dir, tmp_path_factory) -> DagRuns:
    recipes = slurm_recipes()
    with_fault = [r for r in recipes if r in FAULTS]
    if not with_fault:
        pytest.fail(f"none of {recipes} has a fault to inject: add one to FAULTS in {__file__}")
    base = tmp_path_factory.mktemp("slurm_" + "_".join(recipes))
    work = base / "work"
    work.mkdir()
    params = tiny_params(fixtures_dir)  # the main job at a tiny size (tests/e2e/tiny.py)
    params["recipes"] = recipes
    faulty = copy.deepcopy(params)
    fault = FAULTS[with_fault[0]](faulty)
    profile = make_profile(slurm_cluster, base / "profile")
    groups = group_args(recipes, slurm_cluster.cpus, slurm_cluster.mem_mb)

    (work / "params.yaml").write_text(yaml.safe_dump(faulty))
    # (time limits: clarity's run A takes 2-5 min on 2 cores; a hang must not eat CI's 30 minutes)
    scale = max(1, len(recipes))
    a = run_snakemake(slurm_cluster, work, profile, "--keep-going", *groups, timeout=900 * scale)
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    b = run_snakemake(slurm_cluster, work, profile, *groups, timeout=400 * scale)
    before = len(_all_job_ids(slurm_cluster))
    c = run_snakemake(slurm_cluster, work, profile, *groups, timeout=200)
    after = len(_all_job_ids(slurm_cluster))
    ids = [s.slurm_id for run in (a, b, c) for s in run.submissions]
    d = DagRuns(recipes, work, fault, a, b, c, _sacct(slurm_cluster, ids), before, after)
    TIMINGS["+".join(recipes)] = _timings(d)
    (base / "snakemake_A.log").write_text(a.output)
    (base / "snakemake_B.log").write_text(b.output)
    return d


def _explain(run: Run) -> str:
    return f"snakemake {' '.join(run.args)} exited {run.returncode}:\n{run.output[-6000:]}"


def _time(s: str) -> datetime:
    return datetime.fromisoformat(s)


def _is_fault(d: DagRuns, job) -> bool:
    rule, wildcards = d.fault
    return job.rule == rule and job.wildcards == wildcards


# -- the checks -----------------------------------------------------------------------------------
def test_every_job_ran_as_a_slurm_job(slurm_dag):
    d = slurm_dag
    assert d.a.submissions, _explain(d.a)
    for run in (d.a, d.b):
        for sub in run.submissions:
            assert sub.jobs, f"SLURM job {sub.slurm_id}: no job in its log {sub.slurm_log}"
            assert sub.slurm_id in d.sacct, f"SLURM job {sub.slurm_id} unknown to sacct"
        for job in run.remote_jobs:
            sub = run.submission_of(job)
            assert sub is not None, f"{job.key} did not run in any SLURM job:\n{_explain(run)}"
    # the plugin's comment names the rule or group of each SLURM job
    for run in (d.a, d.b):
        for sub in run.submissions:
            comment = d.sacct[sub.slurm_id]["Comment"]
            assert any(j.rule in comment for j in sub.jobs) or comment.startswith("group_"), comment


def test_partitions_chosen_by_the_plugin(slurm_dag):
    """No slurm_partition in the profile: the plugin picks ``gpu`` for GPU jobs, ``cpu`` otherwise."""
    d = slurm_dag
    profile = yaml.safe_load((d.work.parent / "profile" / "config.yaml").read_text())
    assert "slurm_partition" not in str(profile)
    for run in (d.a, d.b):
        for sub in run.submissions:
            wants_gpu = any(j.gpus for j in sub.jobs)
            expected = "gpu" if wants_gpu else "cpu"
            assert sub.partition == expected, (sub, run.output[-3000:])
            assert d.sacct[sub.slurm_id]["Partition"] == expected


def test_gpu_jobs_ran_on_gpu_allocations(slurm_dag):
    d = slurm_dag
    seen = []
    for run in (d.a, d.b):
        for sub in run.submissions:
            tres = d.sacct[sub.slurm_id]["AllocTRES"]
            gpu_jobs = [j for j in sub.jobs if j.gpus]
            if not gpu_jobs:
                assert "gres/gpu" not in tres, (sub, tres)
                continue
            assert len(sub.jobs) == 1, f"a GPU job grouped with others: {[j.key for j in sub.jobs]}"
            job = gpu_jobs[0]
            assert f"gres/gpu={job.gpus}" in tres, (job.key, tres)
            log = (d.work / job.logs[0]).read_text(errors="replace")
            line = next((x for x in log.splitlines() if f"SLURM job {sub.slurm_id}: CUDA_VISIBLE_DEVICES=" in x), None)
            assert line, f"{job.logs[0]} does not record SLURM's devices:\n{log[:2000]}"
            visible = line.split("CUDA_VISIBLE_DEVICES=")[1].split()[0]
            assert visible and all(x.isdigit() for x in visible.split(",")), line
            assert len(visible.split(",")) == job.gpus, line
            seen.append((sub.slurm_id, line.split("SLURM_STEP_GPUS=")[1].split()[0]))
    assert seen, "no job asked for a GPU: the recipe's training rules should (resources: gpu=1)"
    # GPU jobs that ran at the same time held different devices
    recs = {i: d.sacct[i] for i, _ in seen}
    for i, (ja, ga) in enumerate(seen):
        for jb, gb in seen[i + 1:]:
            ra, rb = recs[ja], recs[jb]
            if _time(ra["Start"]) < _time(rb["End"]) and _time(rb["Start"]) < _time(ra["End"]):
                assert ga != gb, f"SLURM jobs {ja} and {jb} overlapped on GPU {ga}"


def test_failed_job_is_reported_and_keep_going_finishes_the_others(slurm_dag):
    d = slurm_dag
    assert d.a.returncode != 0, _explain(d.a)
    failed = [s for s in d.a.submissions if any(_is_fault(d, j) for j in s.jobs)]
    assert len(failed) == 1, (d.fault, [s.jobs for s in d.a.submissions])
    bad = d.sacct[failed[0].slurm_id]
    assert bad["State"] == "FAILED", bad
    assert f"SLURM-job '{failed[0].slurm_id}' failed, SLURM status is: 'FAILED'" in d.a.output, _explain(d.a)
    others = [s for s in d.a.submissions if s is not failed[0]]
    assert others and all(d.sacct[s.slurm_id]["State"] == "COMPLETED" for s in others), \
        [(s.slurm_id, [j.key for j in s.jobs], d.sacct[s.slurm_id]["State"]) for s in others]
    # Snakemake went on submitting after the failure (--keep-going), and those jobs completed
    after = [s for s in others if _time(d.sacct[s.slurm_id]["Submit"]) >= _time(bad["End"])]
    assert after, ("no job was submitted after the failed one ended: "
                   + str([(s.slurm_id, [j.key for j in s.jobs], d.sacct[s.slurm_id]["Submit"], d.sacct[s.slurm_id]["End"])
                          for s in d.a.submissions]))
    # what depends on the failed job never ran
    assert d.a.planned > len(d.a.jobs), (d.a.planned, [j.key for j in d.a.jobs])


def test_after_the_fix_only_what_is_missing_runs(slurm_dag):
    d = slurm_dag
    assert d.b.returncode == 0, _explain(d.b)
    assert d.b.submissions, _explain(d.b)
    assert all(d.sacct[s.slurm_id]["State"] == "COMPLETED" for s in d.b.submissions)
    done_in_a = {j.key for s in d.a.submissions if d.sacct[s.slurm_id]["State"] == "COMPLETED" for j in s.jobs}
    again = [j.key for j in d.b.remote_jobs if j.key in done_in_a]
    assert not again, f"run B reran jobs that completed in run A: {again}"
    # every recipe wrote its plan tables (the DAG's final targets)
    for recipe in d.recipes:
        assert list((d.work / "results" / recipe).glob("*/table.json")), f"no table of {recipe}"


def test_rerun_submits_nothing(slurm_dag):
    d = slurm_dag
    assert d.c.returncode == 0, _explain(d.c)
    assert not d.c.submissions and not d.c.remote_jobs, _explain(d.c)
    assert "Nothing to be done" in d.c.output
    assert d.jobs_after_c == d.jobs_before_c
