"""Fixtures shared by tests/ and benchmarks/."""
import pytest

import brisknet


@pytest.fixture(scope="session")
def fashion_mnist():
    """The reference data (pixels in [0, 1], flattened). CI installs it: missing data is an error."""
    return brisknet.reference.load_fashion_mnist()
