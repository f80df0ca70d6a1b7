"""GPU-slot assignment for Snakemake jobs on one machine.

Snakemake counts GPUs (``--resources gpu=4``) but never says *which* device a job may use
(snakemake issue #281). ``audiopipe gpu-run --gpus N -- CMD ...`` closes the gap: it takes N
device ids that no other running job holds — one ``fcntl`` lock file per device under
``.snakemake/gpu_slots/`` — exports them as ``CUDA_VISIBLE_DEVICES``, runs the command and
releases the locks when it ends. Locks are held by the open file descriptor, so the kernel frees
them even when the job is killed: a dead job never keeps a GPU.

The device count comes from ``AUDIOPIPE_GPU_COUNT`` (the profiles set it), else from
``nvidia-smi -L``; with no GPU the command runs on the CPU with ``CUDA_VISIBLE_DEVICES=""``.
Under SLURM (``SLURM_JOB_ID`` set) Slurm already assigned the devices and the command runs as is;
gpu-run prints the job id and the ``CUDA_VISIBLE_DEVICES`` Slurm set to stderr (the job's log).

With ``--gpu-log PATH`` the held devices are sampled with ``nvidia-smi`` while the command runs,
and their peak memory and mean utilisation are written to PATH (the rules write
``<job log>.gpu.tsv``) when it ends; nothing is written on a machine without GPUs.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

DEFAULT_LOCK_DIR = Path(".snakemake") / "gpu_slots"


def rule_resources(n: int = 1, environ: dict | None = None) -> dict:
    """The ``resources`` of a GPU rule: ``gpu`` devices, plus the site's GPU model or gres.

    On one machine ``gpu`` counts against ``--resources gpu=N``. Under the SLURM profile the
    executor plugin turns it into ``--gpus=N`` and its partition config sends the job to a
    partition with GPUs. ``AUDIOPIPE_GPU_MODEL`` (e.g. ``a100``) adds ``gpu_model``
    (``--gpus=a100:N``); ``AUDIOPIPE_GPU_GRES`` (e.g. ``gpu:a100:1``) replaces both by ``gres``
    for sites that accept only ``--gres`` (the plugin refuses ``gpu`` and ``gres`` together; under
    SLURM, Slurm counts the devices).

    Raises
    ------
    ValueError
        If both variables are set (the plugin refuses gpu and gres together).
    """
    env = os.environ if environ is None else environ
    model, gres = env.get("AUDIOPIPE_GPU_MODEL", ""), env.get("AUDIOPIPE_GPU_GRES", "")
    if model and gres:
        raise ValueError("set AUDIOPIPE_GPU_MODEL or AUDIOPIPE_GPU_GRES, not both")
    if gres:
        return {"gres": gres}
    return {"gpu": n, **({"gpu_model": model} if model else {})}


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


class GPUMonitor(threading.Thread):
    """Sample memory (MiB) and utilisation (%) of some devices with ``nvidia-smi`` every ``period`` s."""

    def __init__(self, devices: list[int], period: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.devices, self.period = set(devices), period
        self.samples: list[tuple[float, float]] = []  # (memory MiB, utilisation %) per device sample
        self._stop_event = threading.Event()

    def sample(self) -> None:
        res = subprocess.run(["nvidia-smi", "--query-gpu=index,memory.used,utilization.gpu",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"nvidia-smi failed ({res.returncode}): {res.stderr.strip()}")
        for line in res.stdout.splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 3 and parts[0].isdigit() and int(parts[0]) in self.devices:
                self.samples.append((float(parts[1]), float(parts[2])))

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.period)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def write(self, path: Path) -> None:
        """TSV: devices, samples, max_memory_mib, mean_utilization_pct."""
        from audiopipe.io import atomic_path

        mem = max((m for m, _ in self.samples), default=float("nan"))
        util = sum(u for _, u in self.samples) / len(self.samples) if self.samples else float("nan")
        with atomic_path(path) as tmp:
            tmp.write_text("devices\tsamples\tmax_memory_mib\tmean_utilization_pct\n"
                           f"{','.join(map(str, sorted(self.devices)))}\t{len(self.samples)}\t{mem:.0f}\t{util:.1f}\n")


def gpu_run_command(argv: list[str]) -> int:
    """``audiopipe gpu-run --gpus N [--lock-dir D] -- CMD ...``: run CMD on N free GPUs."""
    ap = argparse.ArgumentParser(prog="audiopipe gpu-run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpus", type=int, default=1, help="devices the job needs (its resources.gpu)")
    ap.add_argument("--lock-dir", type=Path, default=DEFAULT_LOCK_DIR)
    ap.add_argument("--gpu-log", type=Path, default=None,
                    help="write the held GPUs' peak memory and mean utilisation here (TSV)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    a = ap.parse_args(argv)
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command given")
    env = dict(os.environ)
    if "SLURM_JOB_ID" in env:
        # Slurm assigned the devices; record them in the job's log (SLURM_STEP_GPUS: the node's ids)
        print(f"audiopipe gpu-run: SLURM job {env['SLURM_JOB_ID']}: "
              f"CUDA_VISIBLE_DEVICES={env.get('CUDA_VISIBLE_DEVICES', '<unset>')} "
              f"SLURM_STEP_GPUS={env.get('SLURM_STEP_GPUS', env.get('SLURM_JOB_GPUS', '<unset>'))}",
              file=sys.stderr, flush=True)
        return subprocess.call(cmd, env=env)
    if a.gpus <= 0:
        return subprocess.call(cmd, env=env)
    count = device_count()
    if count == 0:
        env["CUDA_VISIBLE_DEVICES"] = ""
        print("audiopipe gpu-run: no GPU on this machine, running on CPU", file=sys.stderr)
        return subprocess.call(cmd, env=env)
    held = acquire(min(a.gpus, count), count, a.lock_dir)
    monitor = GPUMonitor([d for d, _ in held]) if a.gpu_log else None
    try:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(d) for d, _ in held)
        print(f"audiopipe gpu-run: CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']}", file=sys.stderr)
        if monitor:
            monitor.start()
        return subprocess.call(cmd, env=env)
    finally:
        if monitor:
            monitor.stop()
            monitor.write(a.gpu_log)
        release(held)
