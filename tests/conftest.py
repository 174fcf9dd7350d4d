import os

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


@pytest.fixture(scope="session")
def fashion_mnist():
    """The reference data (pixels in [0, 1], flattened). CI installs it: missing data is an error."""
    return brisknet.reference.load_fashion_mnist()


def run_isa_subprocess(code: str, isa: str):
    """Run `code` in a fresh interpreter with BRISKNET_ISA=isa (the kernel is chosen once per process)."""
    import subprocess
    import sys
    env = dict(os.environ, BRISKNET_ISA=isa)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
