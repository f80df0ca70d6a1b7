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
