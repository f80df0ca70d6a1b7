"""Exact resume: a training job killed with SIGKILL and rerun ends with the same weights, bit for
bit, and the same metrics as an uninterrupted run (issue 12, item 3).

Every recipe that trains runs its real training function in a subprocess (tests/training/
driver.py) at a tiny size on inputs built from the real fixtures: once without interruption,
once paused at an exact point and killed there with SIGKILL, then once more to completion. The
pause point replaces a timed kill: the subprocess stops before the given training batch (or
while a checkpoint file is half written) and tells the test, which checks that the expected
checkpoint is on disk and kills it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO

from .driver import CHECKPOINT_DIR

TIMEOUT_S = 300


def _env(pause: str | None = None, marker: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIOPIPE_TEST_")}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]), OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    if pause:
        env.update(AUDIOPIPE_TEST_PAUSE=pause, AUDIOPIPE_TEST_MARKER=str(marker))
    return env


def _start(scenario: str, inputs: dict, out: Path, log: Path, pause: str | None = None,
           marker: Path | None = None) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    spec = out.parent / f"{out.name}.inputs.json"
    spec.write_text(json.dumps(inputs))
    with open(log, "w") as f:  # stdout and stderr, as a Snakemake rule's log
        return subprocess.Popen([sys.executable, "-m", "tests.training.driver", scenario, str(spec), str(out)],
                                cwd=REPO, env=_env(pause, marker), stdout=f, stderr=subprocess.STDOUT)


def run_to_end(scenario: str, inputs: dict, out: Path, log: Path) -> dict:
    """Run the driver to completion; return its outcome (weights, result, resumed)."""
    return _finish(_start(scenario, inputs, out, log), scenario, out, log)


def _finish(p: subprocess.Popen, scenario: str, out: Path, log: Path) -> dict:
    """Wait for a driver started by :func:`_start` to end; return its outcome."""
    try:
        rc = p.wait(timeout=TIMEOUT_S)
    finally:
        if p.poll() is None:
            p.kill()
    assert rc == 0, f"{scenario} failed (rc {rc}):\n{log.read_text()[-4000:]}"
    return torch.load(out / "outcome.pt", weights_only=True)


def run_and_kill(scenario: str, inputs: dict, out: Path, log: Path, pause: str) -> None:
    """Run the driver until it reaches the pause point ``pause``, then SIGKILL it."""
    marker = out.parent / f"{out.name}.paused"
    p = _start(scenario, inputs, out, log, pause, marker)
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not marker.exists():
            if p.poll() is not None:
                pytest.fail(f"{scenario} ended (rc {p.returncode}) before its pause point {pause}:\n"
                            f"{log.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{scenario} did not reach its pause point {pause} in {TIMEOUT_S} s")
            time.sleep(0.05)
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert p.returncode == -signal.SIGKILL
    assert not (out / "outcome.pt").exists()


def assert_same_outcome(got: dict, want: dict) -> None:
    """Same final weights bit for bit (dtype, shape, bytes) and the same returned metrics."""
    assert got["weights"].keys() == want["weights"].keys()
    for name, w in want["weights"].items():
        g = got["weights"][name]
        assert g.keys() == w.keys(), name
        for k, v in w.items():
            assert g[k].dtype == v.dtype and g[k].shape == v.shape, (name, k)
            assert g[k].numpy().tobytes() == v.numpy().tobytes(), f"{name}: {k} differs"
    assert got["result"] == want["result"]


def _ckpt_epoch(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])


# scenario -> the fixture of its inputs
RECIPES = {
    "clarity": "clarity_inputs",
    "sfi": "sfi_inputs",
    "sar_ssl_pretrain": "sar_ssl_inputs",
    "sar_ssl_downstream": "sar_ssl_inputs",
    "transcoder_teacher": "transcoder_inputs",
    "transcoder_cnn": "transcoder_inputs",
    "strf_sad": "transcoder_inputs",
}
MID_EPOCH = ("batch:1:1", 0)  # in the 2nd epoch, at its 2nd batch: after the 1st epoch's checkpoint
CASES = [pytest.param(s, *MID_EPOCH, id=f"{s}-mid-epoch") for s in RECIPES] + [
    # the riskiest point for SAR-SSL's stopping rule: its epoch-3 weight file is written and the
    # files it no longer needs deleted, the epoch-3 checkpoint is half written
    pytest.param("sar_ssl_downstream", "save:last.ckpt:2", 1, id="sar_ssl_downstream-writing-last.ckpt"),
    # training over, outputs (best weights, test metrics) not written yet
    pytest.param("clarity", "train_end", 2, id="clarity-after-training"),
    pytest.param("transcoder_cnn", "train_end", 2, id="transcoder_cnn-after-training"),
]


@pytest.mark.slow
@pytest.mark.parametrize("scenario, pause, ckpt_epoch", CASES)
def test_recipe_killed_resumes_exactly(scenario, pause, ckpt_epoch, request, tmp_path):
    """Killed with SIGKILL at the pause point, after the checkpoint of epoch ``ckpt_epoch``
    (0-based): the rerun resumes from it, logs the epochs it trains, and ends with the weights
    and metrics of the uninterrupted run."""
    inputs = request.getfixturevalue(RECIPES[scenario])
    # the uninterrupted run goes on beside the one that is killed (one torch thread each)
    clean = _start(scenario, inputs, tmp_path / "clean", tmp_path / "clean.log")
    out = tmp_path / "killed"
    try:
        run_and_kill(scenario, inputs, out, tmp_path / "killed.log", pause)
    except BaseException:
        clean.kill()
        clean.wait()
        raise
    want = _finish(clean, scenario, tmp_path / "clean", tmp_path / "clean.log")
    assert want["resumed"] == 0
    ckpt = out / CHECKPOINT_DIR[scenario] / "last.ckpt"
    assert _ckpt_epoch(ckpt) == ckpt_epoch
    assert f"epoch {ckpt_epoch + 1}/" in (tmp_path / "killed.log").read_text()

    got = run_to_end(scenario, inputs, out, tmp_path / "resumed.log")
    assert_same_outcome(got, want)
    trained_on = pause != "train_end"
    assert got["resumed"] == int(trained_on)
    log = (tmp_path / "resumed.log").read_text()
    assert f"resuming from {ckpt}" in log
    assert f"epoch {ckpt_epoch + 1}/" not in log  # one line per trained epoch, in the job's log
    assert (f"epoch {ckpt_epoch + 2}/" in log) == trained_on


@pytest.fixture(scope="module")
def toy_clean(toy_inputs, tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("toy_clean")
    return run_to_end("toy", toy_inputs, d / "run", d / "run.log")


@pytest.mark.slow  # 10-20 s each (three Python start-ups); test_engine.py covers the same in-process, fast
@pytest.mark.parametrize("pause, ckpt_epoch", [
    pytest.param("batch:2:3", 1, id="mid-epoch"),
    pytest.param("save:last.ckpt:1", 0, id="while-writing-last.ckpt"),
    pytest.param("batch:0:2", None, id="before-any-checkpoint"),
    pytest.param("batch:3:0", 2, id="at-an-epoch-start"),
])
def test_killed_anywhere_resumes_exactly(pause, ckpt_epoch, toy_clean, toy_inputs, tmp_path):
    """The engine's kill points on a small real-data task: wherever the kill lands, last.ckpt is
    a complete checkpoint (or absent) and the rerun ends with the uninterrupted run's weights."""
    out = tmp_path / "run"
    run_and_kill("toy", toy_inputs, out, tmp_path / "killed.log", pause)
    ckpt_dir = out / CHECKPOINT_DIR["toy"]
    if ckpt_epoch is None:
        assert not (ckpt_dir / "last.ckpt").exists()
    else:
        assert _ckpt_epoch(ckpt_dir / "last.ckpt") == ckpt_epoch
    if pause.startswith("save:"):
        partial = ckpt_dir / ".last.ckpt.tmp.ckpt"
        assert partial.is_file() and 0 < partial.stat().st_size  # the half-written temporary file
    got = run_to_end("toy", toy_inputs, out, tmp_path / "resumed.log")
    assert_same_outcome(got, toy_clean)
    assert got["resumed"] == (0 if ckpt_epoch is None else 1)
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["best.ckpt", "last.ckpt"]
