"""Learning-core tests run on 1 thread: the machine's cores are shared with other suites."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)
    yield
