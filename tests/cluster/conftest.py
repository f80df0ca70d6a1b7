"""The SLURM test cluster as a session fixture, and when tests marked ``slurm`` run.

``slurm`` tests start a real SLURM from Debian packages (installing them with apt-get when
missing), so they run only when asked: under ``CI=true`` (``.ci/run``), with ``-m slurm`` or with
``AUDIOPIPE_SLURM=1``. Without root or apt-get they skip with the reason; under ``CI=true`` they
fail instead, since CI must run them.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.cluster.slurm_cluster import (
    ClusterUnavailable,
    SlurmCluster,
    unavailable_reason,
)
from tests.cluster.snakemake_slurm import TIMINGS


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _wanted(config) -> bool:
    return in_ci() or os.environ.get("AUDIOPIPE_SLURM") == "1" or "slurm" in (config.getoption("-m") or "")


def pytest_collection_modifyitems(config, items):
    if _wanted(config):
        return
    skip = pytest.mark.skip(reason="starts a real SLURM cluster (root, Debian packages): "
                                   "run with CI=true, AUDIOPIPE_SLURM=1 or -m slurm")
    for item in items:
        if "slurm" in item.keywords:
            item.add_marker(skip)


def unavailable(reason: str):
    """Skip, or fail under CI=true: the SLURM stage must run in CI."""
    if in_ci():
        pytest.fail(f"CI=true but the SLURM test cluster cannot run here: {reason}")
    pytest.skip(f"SLURM test cluster unavailable: {reason}")


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node SLURM (partitions cpu and gpu, 2 fake GPUs, accounting)."""
    reason = unavailable_reason()
    if reason:
        unavailable(reason)
    cluster = SlurmCluster(n_gpus=2, gpu_type=os.environ.get("AUDIOPIPE_GPU_MODEL") or "a100")
    try:
        cluster.start()
    except ClusterUnavailable as e:
        cluster.stop()
        unavailable(str(e))
    except BaseException:
        cluster.stop()
        raise
    TIMINGS["cluster"] = dict(cluster.timings)
    try:
        yield cluster
    finally:
        cluster.stop()


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS:
        return
    terminalreporter.section("SLURM stage timings")
    for line in json.dumps(TIMINGS, indent=1).splitlines():
        terminalreporter.write_line(line)
    path = os.environ.get("AUDIOPIPE_SLURM_TIMINGS")
    if path:
        with open(path, "w") as fh:
            json.dump(TIMINGS, fh, indent=1)
