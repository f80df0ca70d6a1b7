"""Fidelity tests: one torch thread (shared, small machines)."""

from tests._torch_threads import one_torch_thread  # noqa: F401  (autouse)
