"""Shared test fixtures.

Real recordings live in ``../shared/fixtures`` beside the checkout (never in the repository).
Set ``AUDIOPIPE_FIXTURES`` to point elsewhere (e.g. from a git worktree).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def fixtures_root() -> Path | None:
    """Locate the shared real-audio fixtures, or None when this machine has none."""
    env = os.environ.get("AUDIOPIPE_FIXTURES")
    cands = [Path(env)] if env else []
    cands.append(REPO.parent / "shared" / "fixtures")
    for c in cands:
        if (c / "README.md").is_file():
            return c
    return None


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Path of ``shared/fixtures``; the test fails (not skips) when it is absent, since CI has it."""
    root = fixtures_root()
    if root is None:
        pytest.fail("shared/fixtures not found: set AUDIOPIPE_FIXTURES to its path")
    return root


def fake_nvidia_smi(tmp_path: Path) -> Path:
    """A stand-in ``nvidia-smi`` listing two GPUs (``-L``) and one sample line per device
    (``index, memory.used MiB, utilization.gpu %``: 0 → 1200, 40; 1 → 3300, 90). Returns the
    folder to put first on ``PATH``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\n"
                   "if [ \"$1\" = -L ]; then echo 'GPU 0: Fake (UUID: a)'; echo 'GPU 1: Fake (UUID: b)'; exit 0; fi\n"
                   "echo '0, 1200, 40'\necho '1, 3300, 90'\n")
    smi.chmod(0o755)
    return bin_dir
