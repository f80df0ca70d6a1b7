"""Shared settings of the acoustics tests."""

from __future__ import annotations

from tests._torch_threads import one_torch_thread  # noqa: F401  (autouse)
