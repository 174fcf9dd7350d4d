"""GEMM at the reference model's training shapes (batch 32/128/512) and square sizes, brisknet
beside numpy (OpenBLAS) in the same run; each benchmark also checks its result against numpy.

Run: python -m pytest benchmarks/bench_kernels.py --benchmark-only
(unset OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE in that shell if set: they slow a current numpy).
"""
import numpy as np
import pytest

import brisknet
from brisknet import kernels, reference, testing

SHAPES = [s for b in (32, 128, 512) for s in reference.gemm_shapes(b)]
SHAPES += [(f"square {n}", n, n, n, False, False) for n in (512, 1024, 2048)]


def assert_matmul_result(out, a, b, ta, tb):
    """Every timed product is also checked against the oracle (brisknet.testing)."""
    testing.assert_close(out, testing.matmul(a, b, ta, tb), testing.matmul_error_bound(a, b, ta, tb))


@pytest.mark.parametrize("impl", ["brisknet", "numpy"])
@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_matmul(benchmark, shape, impl):
    name, m, k, n, ta, tb = shape
    benchmark.group = f"matmul {name}"
    a, b = reference.gemm_operands(m, k, n, ta, tb)
    out = np.empty((m, n), np.float32)
    if impl == "brisknet":
        benchmark(kernels.matmul, a, b, ta, tb, None, out)
    else:
        benchmark(np.matmul, a.T if ta else a, b.T if tb else b, out=out)
    benchmark.extra_info.update(gflop=2e-9 * m * n * k, isa=brisknet.cpu_info()["gemm_isa"],
                                threads=brisknet.get_num_threads())
    assert_matmul_result(out, a, b, ta, tb)


def test_adam_update_1_8m_params(benchmark):
    """The optimizer step of the reference model: one Adam call over 1,796,010 parameters."""
    n = 1_796_010
    benchmark.group = "adam 1.8M"
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n, dtype=np.float32)
    g = rng.standard_normal(n, dtype=np.float32)
    m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
    benchmark(kernels.adam_step, p, g, m, v, 1)
    assert np.isfinite(p).all()


# numpy forms of the activation gradients timed beside the kernels (a scalar fallback in the
# compiled kernel, as a lost vectorisation once caused, shows as a ratio far above numpy's)
NUMPY_GRADS = {
    "relu": lambda dy, x, y: dy * (x > 0),
    "leaky_relu": lambda dy, x, y: dy * np.where(x > 0, np.float32(1), np.float32(0.2)),
    "elu": lambda dy, x, y: dy * np.where(x > 0, np.float32(1), y + np.float32(1)),
    "hard_sigmoid": lambda dy, x, y: dy * ((x > -3) & (x < 3)) / np.float32(6),
}


@pytest.mark.parametrize("impl", ["brisknet", "numpy"])
@pytest.mark.parametrize("name", sorted(NUMPY_GRADS))
def test_activation_grad_128x1000(benchmark, name, impl):
    """One activation gradient over a batch-128 layer of 1000 units."""
    benchmark.group = f"activation_grad {name}"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 1000)).astype(np.float32) * 4
    dy = rng.standard_normal((128, 1000)).astype(np.float32)
    y = kernels.activation(x, name)
    if impl == "brisknet":
        out = benchmark(kernels.activation_grad, dy, x, y, name)
    else:
        out = benchmark(NUMPY_GRADS[name], dy, x, y)
    np.testing.assert_allclose(out, NUMPY_GRADS[name](dy, x, y), rtol=1e-6, atol=1e-6)
