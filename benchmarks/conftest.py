"""Benchmarks run one implementation after another on the same cores. OpenBLAS's idle worker
threads keep spinning for about 0.1 s after a numpy call (GNU OpenMP's and PyTorch's for less),
so whichever benchmark comes next would share the cores with them: a 2-core machine measured
brisknet at a third of its speed right after numpy this way. Each benchmark starts once the
previous library's threads have gone to sleep."""
import time

import pytest


@pytest.fixture(autouse=True)
def idle_thread_pools():
    time.sleep(0.25)
    yield
