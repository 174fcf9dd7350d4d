"""The element-wise kernels' AVX2 and AVX-512 copies (cpp/kernels/isa_clones.h) give the baseline
copy's bits: every activation and its gradient (NaN, infinities, signed zeros, a subnormal among
the values; NaNs compared as NaN, not by payload) and max and average pooling with their gradients. (The GEMM's own results differ
between paths: the tiles and the fused multiply-adds are the ISA's.) BRISKNET_ISA picks the copy,
one fresh interpreter per path."""
import hashlib

import pytest

from isa_paths import ISAS, run_isa_subprocess

DIGEST = """
import hashlib, numpy as np, brisknet
from brisknet import _core, kernels
rng = np.random.default_rng(0)
h = hashlib.sha256()


def bits(a):  # every NaN as one NaN: which NaN an invalid operation gives depends on operand order
    a = np.array(a)
    if a.dtype.kind == "f":
        a[np.isnan(a)] = np.nan
    return a.tobytes()


x = (rng.standard_normal((257, 37)) * 4).astype(np.float32)
x.flat[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-39]
dy = rng.standard_normal(x.shape).astype(np.float32)
for act in [a for a in kernels.ACTIVATIONS if a not in ("softmax", "log_softmax")]:
    y = kernels.activation(x, act)
    h.update(bits(y))
    h.update(bits(kernels.activation_grad(dy, x, y, act)))
img = rng.standard_normal((6, 11, 9, 19)).astype(np.float32)
img.flat[::97] = np.nan
for kernel, strides, pad, out in [((2, 2), (2, 2), (0, 0), (5, 4)), ((3, 3), (2, 1), (1, 1), (6, 9))]:
    y = np.empty((6, *out, 19), np.float32)
    at = np.empty(y.shape, np.int32)
    _core.pool_forward(y, at, img, kernel, strides, pad, out)
    dx = np.empty_like(img)
    _core.pool_backward(dx, y * 0.5, at, kernel, strides, pad, out)
    h.update(bits(y) + bits(at) + bits(dx))
    _core.pool_forward(y, None, img, kernel, strides, pad, out)
    _core.pool_backward(dx, y * 0.5, None, kernel, strides, pad, out)
    h.update(bits(y) + bits(dx))
print(brisknet.cpu_info()["gemm_isa"], h.hexdigest())
"""


def test_every_isa_copy_gives_the_baseline_bits():
    results = {}
    for isa in ISAS:
        res = run_isa_subprocess(DIGEST, isa)
        assert res.returncode == 0, res.stderr
        chosen, digest = res.stdout.split()
        results[chosen] = digest  # (a CPU without AVX-512 runs its widest path twice)
    assert len(set(results.values())) == 1, results
