"""GEMM at a few shapes with 1, 2, 4 and 16 threads requested: each kernel picks its thread count
per shape, capped at the usable cores, so asking for more threads must never be slower (the
trap PyTorch users hit when a small MLP crosses its threading threshold). The table prints each
count's median beside the 1-thread median.

Run: python -m pytest benchmarks/bench_threads.py --benchmark-only
"""
import numpy as np
import pytest

import brisknet
from bench_kernels import assert_matmul_result
from brisknet import kernels, reference

SHAPES = [("fwd 32x784x1000", 32, 784, 1000, False, False),
          ("dX 32x1000x784 (B^T)", 32, 1000, 784, False, True),
          ("dW 784x32x1000 (A^T)", 784, 32, 1000, True, False),
          ("small 64x64x64", 64, 64, 64, False, False),
          ("batch-1 1x784x1000", 1, 784, 1000, False, False),
          ("fwd 512x1000x1000", 512, 1000, 1000, False, False)]


@pytest.mark.parametrize("threads", [1, 2, 4, 16])
@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_threads(benchmark, shape, threads):
    name, m, k, n, ta, tb = shape
    benchmark.group = f"threads {name}"
    a, b = reference.gemm_operands(m, k, n, ta, tb)
    out = np.empty((m, n), np.float32)
    before = brisknet.get_num_threads()
    brisknet.set_num_threads(threads)
    try:
        benchmark(kernels.matmul, a, b, ta, tb, None, out)
    finally:
        brisknet.set_num_threads(before)
    benchmark.extra_info.update(threads=threads, cores=brisknet.utils.cpu_info()["usable_cores"])
    assert_matmul_result(out, a, b, ta, tb)
