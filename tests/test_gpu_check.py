"""scripts/gpu_check.py: its CPU path (the one CI can run) prints every row with sane numbers.

The full CPU run (``--device cpu --quick``, batch 1, one timed step) takes about 30 s on 2 free
cores and is marked ``slow``; the checks of the gpu-run verdict and of a failing row are quick.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "gpu_check.py"

#: every training row the check must hold at demo size: (recipe: name) prefixes
TRAINING = [
    "clarity: Conv-TasNet",
    "sfi: SFI Conv-TasNet",
    "sfi: plain Conv-TasNet",
    "sar_ssl: MC-Conformer pre-training",
    "sar_ssl: downstream",
    "transcoder: PANN Cnn14 classifier",
    "transcoder: YAMNet classifier",
    "transcoder: CNN transcoder -> PANN (mel)",
    "transcoder: CNN transcoder -> PANN (logits)",
    "strf: STRF speech activity",
    "strf: STRF urban sound",
]


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _run(args: list[str], tmp: Path, timeout: int = 300) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("AUDIOPIPE_GPU_COUNT", None)
    res = subprocess.run([sys.executable, str(SCRIPT), *args, "--output", str(tmp)], env=env, capture_output=True,
                         text=True, timeout=timeout, check=False)
    out = tmp / "gpu_check.json"
    assert out.is_file(), res.stdout[-3000:] + res.stderr[-3000:]
    return res, json.loads(out.read_text())


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu_check")
    res, report = _run(["--device", "cpu", "--quick", "--batch", "1", "--steps", "1", "--threads", "1"], tmp)
    return res, report, tmp


def _row(report: dict, section: str, prefix: str) -> dict:
    rows = [r for r in report["rows"] if r["section"] == section and r["check"].startswith(prefix)]
    assert len(rows) == 1, (prefix, [r["check"] for r in report["rows"]])
    return rows[0]


@pytest.mark.slow
def test_cpu_path_prints_every_row_and_passes(cpu_run):
    res, report, tmp = cpu_run
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert not report["failed"]
    assert report["environment"]["device"] == "cpu"
    text, md = res.stdout, (tmp / "gpu_check.md").read_text()
    for r in report["rows"]:
        assert r["check"] in text and r["check"].replace("|", "\\|") in md
    assert "rows:" in text and "0 failed" in text
    assert report["seconds"] < 600


@pytest.mark.slow
def test_cpu_training_rows_have_sane_numbers(cpu_run):
    _, report, _ = cpu_run
    for prefix in TRAINING:
        r = _row(report, "training", prefix)
        assert r["status"] == "ok", r
        assert r["device"] == "cpu" and r["unit"] == "examples/s"
        assert math.isfinite(r["value"]) and 0 < r["value"] < 1e5, r
        assert r["peak_mem"] == "n/a"  # no CUDA memory on the CPU
        assert r["extra"]["batch"] == 1 and r["extra"]["params"] > 0
        assert math.isfinite(r["extra"]["last_loss"])
        assert r["config"].startswith("demo")
    # only demo sizes with --quick; the Clarity demo is the paper's 128/40/128/256/3/7/2
    assert not [r for r in report["rows"] if r["config"].startswith("paper")]
    assert "128/40/128/256/3/7/2" in _row(report, "training", "clarity: Conv-TasNet")["config"]


@pytest.mark.slow
def test_cpu_rir_and_gpurir_rows(cpu_run):
    _, report, _ = cpu_run
    cpu = _row(report, "rir", "ism CPU 1 thread")
    assert cpu["status"] == "ok" and cpu["unit"] == "RIRs/s" and 1 < cpu["value"] < 1e5, cpu
    cuda = _row(report, "rir", "ism CUDA")
    assert cuda["status"] == "skip" and cuda["value"] is None
    goal = _row(report, "rir", "ism goal >= 1,000 RIRs/s")
    assert goal["status"] == "skip" and "CUDA" in goal["detail"]
    g = _row(report, "rir", "gpuRIR backend")
    try:
        import gpuRIR  # noqa: F401
    except ImportError:
        assert g["status"] == "skip" and "not installed" in g["detail"] and "pip install" in g["detail"]
    else:
        assert g["status"] == "skip" and "CUDA" in g["detail"]  # installed, but the run is on the CPU


@pytest.mark.slow
def test_cpu_gpu_run_row_fakes_devices_with_distinct_ids(cpu_run):
    _, report, _ = cpu_run
    r = _row(report, "gpu-run", "gpu-run under snakemake --resources gpu=N (fake)")
    assert r["status"] == "ok", r
    n, jobs = r["extra"]["n_devices"], r["extra"]["jobs"]
    assert n == 3 and len(jobs) == 6
    ids = [j["cuda_visible_devices"] for j in jobs]
    assert all(i.isdigit() and int(i) < n for i in ids)
    pairs = [(a, b) for a in jobs for b in jobs if a is not b and a["t0"] < b["t1"] and b["t0"] < a["t1"]]
    assert pairs, "no jobs overlapped"
    assert all(a["cuda_visible_devices"] != b["cuda_visible_devices"] for a, b in pairs)
    real = _row(report, "gpu-run", "gpu-run under snakemake --resources gpu=N (real)")
    assert real["status"] == "skip"


def test_gpu_run_verdict_catches_shared_and_out_of_range_ids():
    gc = _load_script()
    ok = [{"cuda_visible_devices": "0", "t0": 0, "t1": 2}, {"cuda_visible_devices": "1", "t0": 1, "t1": 3},
          {"cuda_visible_devices": "0", "t0": 2.5, "t1": 4}]
    assert gc.check_gpu_run(ok, 2, expect_overlap=True) == []
    assert gc.max_concurrent(ok) == 2
    shared = [dict(ok[0]), {**ok[1], "cuda_visible_devices": "0"}]
    assert any("same time on device 0" in p for p in gc.check_gpu_run(shared, 2, True))
    assert any(">= N=2" in p for p in gc.check_gpu_run([{**ok[0], "cuda_visible_devices": "2"}], 2, False))
    assert any("not one device id" in p for p in gc.check_gpu_run([{**ok[0], "cuda_visible_devices": ""}], 2, False))
    serial = [ok[0], {**ok[1], "t0": 2.1, "t1": 3}]
    assert any("no two jobs overlapped" in p for p in gc.check_gpu_run(serial, 2, True))
    three = ok + [{"cuda_visible_devices": "2", "t0": 1.5, "t1": 2.2}]
    assert any("3 jobs ran at once" in p for p in gc.check_gpu_run(three, 2, False))
    assert any("torch saw 2 devices" in p for p in gc.check_gpu_run([{**ok[0], "torch_device_count": 2}], 2, False))


def test_a_failing_row_still_prints_the_table_and_fails_the_exit_code(tmp_path):
    """A broken STRF size fails its row; the other row runs, the table prints, the exit code is 1."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["strf"]["sad"]["hidden"] = -1  # nn.Conv1d refuses a negative width
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(params))
    res, report = _run(["--device", "cpu", "--quick", "--batch", "1", "--steps", "1", "--threads", "1",
                        "--only", "strf", "--params", str(p)], tmp_path / "out")
    assert res.returncode == 1, res.stdout[-3000:] + res.stderr[-2000:]
    assert report["failed"]
    sad = _row(report, "training", "strf: STRF speech activity")
    urban = _row(report, "training", "strf: STRF urban sound")
    assert sad["status"] == "FAIL" and "Error" in sad["detail"] and sad["value"] is None
    assert urban["status"] == "ok" and urban["value"] > 0
    assert {r["section"] for r in report["rows"]} == {"training"}  # --only strf
    assert "FAIL" in res.stdout and "1 failed" in res.stdout
    assert "strf: STRF urban sound" in res.stdout.split("section")[-1]  # the table, after the failure


def test_ism_cuda_branch_bookkeeping_on_a_stand_in_device(monkeypatch):
    """The CUDA rows' logic (batch sweep, CPU/CUDA agreement, the 1,000 RIRs/s verdict) with the
    CPU standing in for the device and a stand-in backend: this machine has no GPU."""
    import numpy as np
    import torch

    from audiopipe.acoustics import rir

    gc = _load_script()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    calls = []

    def fake_ism(rooms, fs, *, device="cpu", seed=0, **kw):
        calls.append((str(device), len(rooms)))
        return [np.full((2, 8), 1.0 + k, np.float32) + (1e-6 if str(device) == "cuda" else 0.0)
                for k in range(len(rooms))]

    monkeypatch.setattr(rir, "ism_rirs", fake_ism)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda *a: None)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *a: 3 * 2**20)
    rows = {r.check: r for r in gc.run_ism(params, "cuda", quick=True)}
    cuda, goal = rows["ism CUDA"], rows["ism goal >= 1,000 RIRs/s on one GPU"]
    assert cuda.status == "ok" and cuda.value > 0 and cuda.peak_mem == "3 MiB", cuda
    assert cuda.extra["error_db_vs_cpu"] < -100 and "best batch" in cuda.detail
    assert {b for d, b in calls if d == "cuda"} >= {16, 64, 256}
    assert goal.status == "ok" and goal.detail.startswith("met")
    monkeypatch.setattr(gc, "ISM_GOAL_RIRS_PER_S", 1e15)
    goal = [r for r in gc.run_ism(params, "cuda", quick=True) if r.check.startswith("ism goal")][0]
    assert goal.status == "miss" and goal.detail.startswith("NOT met")

    def wrong_on_cuda(rooms, fs, *, device="cpu", seed=0, **kw):
        return [np.ones((2, 8), np.float32) * (2.0 if str(device) == "cuda" else 1.0) for _ in rooms]

    monkeypatch.setattr(rir, "ism_rirs", wrong_on_cuda)
    cuda = [r for r in gc.run_ism(params, "cuda", quick=True) if r.check == "ism CUDA"][0]
    assert cuda.status == "FAIL" and "differ" in cuda.detail


@pytest.mark.slow
def test_real_gpu_run_row_with_a_stand_in_nvidia_smi(tmp_path, monkeypatch):
    """The `real` gpu-run row (device count and --gpu-log from nvidia-smi) with a fake nvidia-smi
    listing two GPUs; the jobs' CUDA workload is left out (no GPU here)."""
    gc = _load_script()
    from tests.conftest import fake_nvidia_smi

    bin_dir = fake_nvidia_smi(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("AUDIOPIPE_GPU_COUNT", raising=False)
    monkeypatch.setattr(gc, "RECORDER", gc.RECORDER.replace("if use_cuda:", "if False:"))
    env = dict(os.environ)
    row = gc.run_gpu_run("real", "cuda", env)
    assert row.status == "ok", row
    assert row.extra["n_devices"] == 2 and len(row.extra["jobs"]) == 3
    assert {g["devices"] for g in row.extra["gpu_logs"]} <= {"0", "1"}
    assert all(int(g["samples"]) >= 1 for g in row.extra["gpu_logs"])
    assert "gpu-log peak" in row.detail
