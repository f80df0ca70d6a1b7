"""GPU-slot assignment for Snakemake jobs on one machine.

Snakemake counts GPUs (``--resources gpu=4``) but never says *which* device a job may use
(snakemake issue #281). ``audiopipe gpu-run --gpus N -- CMD ...`` closes the gap: it takes N
device ids that no other running job holds — one ``fcntl`` lock file per device under
``.snakemake/gpu_slots/`` — exports them as ``CUDA_VISIBLE_DEVICES``, runs the command and
releases the locks when it ends. Locks are held by the open file descriptor, so the kernel frees
them even when the job is killed: a dead job never keeps a GPU.

The device count comes from ``AUDIOPIPE_GPU_COUNT`` (the profiles set it), else from
``nvidia-smi -L``; with no GPU the command runs on the CPU with ``CUDA_VISIBLE_DEVICES=""``.
Under SLURM (``SLURM_JOB_ID`` set) Slurm already assigned the devices and the command runs as is.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_LOCK_DIR = Path(".snakemake") / "gpu_slots"


def device_count() -> int:
    """Number of GPUs: ``AUDIOPIPE_GPU_COUNT`` if set, else ``nvidia-smi -L`` lines, else 0.

    Raises
    ------
    ValueError
        If ``AUDIOPIPE_GPU_COUNT`` is not a non-negative integer.
    """
    env = os.environ.get("AUDIOPIPE_GPU_COUNT")
    if env is not None and env != "":
        if not env.isdigit():
            raise ValueError(f"AUDIOPIPE_GPU_COUNT must be a non-negative integer, got {env!r}")
        return int(env)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    res = subprocess.run([smi, "-L"], capture_output=True, text=True, check=False)
    return sum(1 for line in res.stdout.splitlines() if line.startswith("GPU "))


def acquire(n: int, count: int, lock_dir: Path = DEFAULT_LOCK_DIR, timeout: float = 3600.0,
            poll: float = 0.2) -> list[tuple[int, int]]:
    """Lock ``n`` free device ids out of ``count``; returns ``[(device id, fd)]``.

    Waits (polling) until enough devices are free. Snakemake's ``--resources gpu=K`` normally
    guarantees they are, so waiting only happens when jobs from another Snakemake instance share
    the machine.

    Raises
    ------
    ValueError
        If ``n > count``.
    TimeoutError
        If the devices stay busy for ``timeout`` seconds.
    """
    if n > count:
        raise ValueError(f"job asks for {n} GPU(s) but only {count} exist")
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        held: list[tuple[int, int]] = []
        for dev in range(count):
            fd = os.open(lock_dir / f"gpu{dev}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            held.append((dev, fd))
            if len(held) == n:
                return held
        release(held)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {n} free GPU(s) among {count} after {timeout:.0f} s (locks in {lock_dir})")
        time.sleep(poll)


def release(held: list[tuple[int, int]]) -> None:
    """Release locks taken by :func:`acquire`."""
    for _, fd in held:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def gpu_run_command(argv: list[str]) -> int:
    """``audiopipe gpu-run --gpus N [--lock-dir D] -- CMD ...``: run CMD on N free GPUs."""
    ap = argparse.ArgumentParser(prog="audiopipe gpu-run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpus", type=int, default=1, help="devices the job needs (its resources.gpu)")
    ap.add_argument("--lock-dir", type=Path, default=DEFAULT_LOCK_DIR)
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    a = ap.parse_args(argv)
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command given")
    env = dict(os.environ)
    if "SLURM_JOB_ID" in env or a.gpus <= 0:
        return subprocess.call(cmd, env=env)
    count = device_count()
    if count == 0:
        env["CUDA_VISIBLE_DEVICES"] = ""
        print("audiopipe gpu-run: no GPU on this machine, running on CPU", file=sys.stderr)
        return subprocess.call(cmd, env=env)
    held = acquire(min(a.gpus, count), count, a.lock_dir)
    try:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(d) for d, _ in held)
        print(f"audiopipe gpu-run: CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']}", file=sys.stderr)
        return subprocess.call(cmd, env=env)
    finally:
        release(held)
