"""One intra-op torch thread for the test packages that import it into their conftest (the
machines running the tests are shared and small)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Set torch to one intra-op thread for the session, then restore the previous count."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
