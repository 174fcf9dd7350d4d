"""The one oracle for brisknet's matrix products, shared by the tests, the benchmarks and the
fuzzers (as numpy.testing is numpy's): numpy's product in float64 with an element-wise error bound
that follows from the floating-point model, and the C++ triple loop that performs each element's
operations in the packed GEMM's order, which the GEMM must equal bit for bit."""
from __future__ import annotations

import numpy as np

from . import _core

__all__ = ["matmul", "matmul_error_bound", "matmul_in_gemm_order", "assert_close", "round_to_bfloat16"]


def _operands(a, b, transpose_a, transpose_b):
    return (a.T if transpose_a else a), (b.T if transpose_b else b)


def matmul(a, b, transpose_a=False, transpose_b=False, bias=None) -> np.ndarray:
    """op(a) @ op(b) (+ bias) in float64."""
    A, B = _operands(a, b, transpose_a, transpose_b)
    out = A.astype(np.float64) @ B.astype(np.float64)
    return out if bias is None else out + np.asarray(bias, np.float64)


def matmul_error_bound(a, b, transpose_a=False, transpose_b=False, bias=None, dtype=np.float32) -> np.ndarray:
    """The most a `dtype` GEMM may differ from matmul() per element: gamma_(k+2) (|A| |B| + |bias|),
    gamma_j = j u / (1 - j u) with u the unit round-off (a sum of k products, then the bias), plus
    the smallest normal number for underflow. Cancellation may lose all of a sum's digits: the
    bound is relative to the sum of |products|, not to the result."""
    A, B = _operands(a, b, transpose_a, transpose_b)
    u = np.finfo(dtype).eps / 2
    k = A.shape[1]
    gamma = (k + 2) * u / (1 - (k + 2) * u)
    magnitude = np.abs(A).astype(np.float64) @ np.abs(B).astype(np.float64)
    if bias is not None:
        magnitude = magnitude + np.abs(np.asarray(bias, np.float64))
    return gamma * magnitude + np.finfo(dtype).tiny


def round_to_bfloat16(x) -> np.ndarray:
    """float32 values rounded to bfloat16 (returned as float32) as the bf16 GEMM packs them, and as
    VCVTNEPS2BF16 does: to nearest even, zeros and denormals to a zero of their sign, NaN quieted."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    r = np.where((u & 0x7F800000) == 0, (u >> 16) & 0x8000, r)
    r = np.where((u & 0x7FFFFFFF) > 0x7F800000, (u >> 16) | 0x40, r)
    return (r.astype(np.uint32) << 16).view(np.float32).reshape(np.shape(x))


def matmul_in_gemm_order(a, b, transpose_a=False, transpose_b=False, bias=None, beta=0.0, out=None) -> np.ndarray:
    """The product by the C++ triple loop that sums in the packed GEMM's order (this CPU's kc
    blocks; FMA where the chosen ISA uses it): kernels.matmul must equal it exactly."""
    A, B = _operands(a, b, transpose_a, transpose_b)
    if out is None:
        out = np.zeros((A.shape[0], B.shape[1]), np.result_type(a, b))
    _core.gemm(out, a, b, transpose_a, transpose_b, float(beta), bias, reference=True)
    return out


def assert_close(got, want, bound, what="") -> None:
    """|got - want| <= bound element-wise (bound: an array or a number); says where it fails."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape} != {want.shape}")
    excess = np.abs(got - want) - bound
    if np.isnan(excess).any() or (excess > 0).any():
        i = np.unravel_index(np.nanargmax(np.where(np.isnan(excess), np.inf, excess)), excess.shape)
        raise AssertionError(f"{what}: at {tuple(int(v) for v in i)} got {got[i]!r}, want {want[i]!r}, "
                             f"allowed error {np.broadcast_to(bound, got.shape)[i]!r}")
