"""GPU slots: four Snakemake jobs on two (fake) devices never hold the same id at once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from audiopipe.pipeline import gpu


def test_device_count_from_env(monkeypatch):
    monkeypatch.setenv("AUDIOPIPE_GPU_COUNT", "3")
    assert gpu.device_count() == 3
    monkeypatch.setenv("AUDIOPIPE_GPU_COUNT", "two")
    with pytest.raises(ValueError, match="AUDIOPIPE_GPU_COUNT"):
        gpu.device_count()


def test_acquire_release(tmp_path):
    a = gpu.acquire(1, 2, tmp_path)
    b = gpu.acquire(1, 2, tmp_path)
    assert {a[0][0], b[0][0]} == {0, 1}
    with pytest.raises(TimeoutError):
        gpu.acquire(1, 2, tmp_path, timeout=0.3)
    gpu.release(a)
    c = gpu.acquire(1, 2, tmp_path)
    assert c[0][0] == a[0][0]
    gpu.release(b + c)
    with pytest.raises(ValueError, match="only 2 exist"):
        gpu.acquire(3, 2, tmp_path)


def test_killed_job_frees_its_device(tmp_path):
    code = f"from audiopipe.pipeline import gpu; import time; gpu.acquire(2, 2, __import__('pathlib').Path({str(tmp_path)!r})); print('held', flush=True); time.sleep(60)"
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    with pytest.raises(TimeoutError):
        gpu.acquire(1, 2, tmp_path, timeout=0.3)
    p.kill()
    p.wait()
    held = gpu.acquire(2, 2, tmp_path, timeout=5)
    gpu.release(held)


def test_four_snakemake_jobs_on_two_fake_gpus_never_collide(tmp_path):
    (tmp_path / "Snakefile").write_text(textwrap.dedent("""
        import sys
        AUDIOPIPE = f"{sys.executable} -m audiopipe"
        rule all:
            input: expand("job{i}.json", i=range(4))
        rule job:
            output: "job{i}.json"
            resources: gpu=1
            shell:
                "{AUDIOPIPE} gpu-run --gpus {resources.gpu} -- {sys.executable} -c "
                "'import os, time, json; t0 = time.time(); time.sleep(1.5); "
                "json.dump(dict(dev=os.environ[\\"CUDA_VISIBLE_DEVICES\\"], t0=t0, t1=time.time()), open(\\"{output}\\", \\"w\\"))'"
    """))
    env = {**__import__("os").environ, "AUDIOPIPE_GPU_COUNT": "2"}
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "4", "--resources", "gpu=2"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = [json.loads((tmp_path / f"job{i}.json").read_text()) for i in range(4)]
    assert {j["dev"] for j in jobs} <= {"0", "1"}
    for a in jobs:
        for b in jobs:
            if a is not b and a["t0"] < b["t1"] and b["t0"] < a["t1"]:  # ran at the same time
                assert a["dev"] != b["dev"]
    # with 4 cores but gpu=2, at most two ran at once, so at least two pairs overlapped in time
    overlaps = sum(1 for a in jobs for b in jobs if a is not b and a["t0"] < b["t1"] and b["t0"] < a["t1"]) // 2
    assert overlaps >= 1


def test_no_gpu_runs_on_cpu(tmp_path):
    env = {**__import__("os").environ, "AUDIOPIPE_GPU_COUNT": "0"}
    out = subprocess.run([sys.executable, "-m", "audiopipe", "gpu-run", "--gpus", "1", "--", sys.executable, "-c",
                          "import os; print(repr(os.environ['CUDA_VISIBLE_DEVICES']))"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "''"


def test_gpu_log_from_nvidia_smi(tmp_path):
    """A fake nvidia-smi on PATH: device count from `-L`, memory/utilisation sampled per held id."""
    import os

    from tests.conftest import fake_nvidia_smi

    bin_dir = fake_nvidia_smi(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "AUDIOPIPE_GPU_COUNT"}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    log = tmp_path / "train.gpu.tsv"
    out = subprocess.run([sys.executable, "-m", "audiopipe", "gpu-run", "--gpus", "1", "--lock-dir", str(tmp_path / "locks"),
                          "--gpu-log", str(log), "--", sys.executable, "-c",
                          "import os, time; time.sleep(1.5); print(os.environ['CUDA_VISIBLE_DEVICES'])"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
    head, row = log.read_text().splitlines()
    assert head.split("\t") == ["devices", "samples", "max_memory_mib", "mean_utilization_pct"]
    dev, n, mem, util = row.split("\t")
    assert dev == "0" and int(n) >= 1 and mem == "1200" and float(util) == 40.0


def test_under_slurm_devices_are_slurms_and_logged():
    """Inside a SLURM job gpu-run takes no slot and records Slurm's devices in the job's log."""
    import os

    env = {**os.environ, "SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "1", "SLURM_STEP_GPUS": "1",
           "AUDIOPIPE_GPU_COUNT": "4"}
    out = subprocess.run([sys.executable, "-m", "audiopipe", "gpu-run", "--gpus", "1", "--", sys.executable, "-c",
                          "import os; print(os.environ['CUDA_VISIBLE_DEVICES'])"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "1"
    assert "SLURM job 42: CUDA_VISIBLE_DEVICES=1 SLURM_STEP_GPUS=1" in out.stderr
