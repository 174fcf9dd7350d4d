import numpy as np
import pytest

import brisknet


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def restore_threads():
    """Tests that change the thread count must not leak it into other tests."""
    n = brisknet.get_num_threads()
    yield
    brisknet.set_num_threads(n)
