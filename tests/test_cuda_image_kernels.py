"""The CUDA engine's image kernels (cuda/image_kernels.cuh: im2col, col2im, pooling, padding and
cropping, upsampling, SpatialDropout) on any machine: compiled for the host by the C++ compiler
(tests/cuda_image_kernels_host.cpp, one thread covering each kernel's whole grid) and checked
against brisknet's CPU kernels: their index arithmetic, masks and orders of summation. A
convolution is im2col then a GEMM (numpy's here, brisknet's CUDA GEMM on the GPU). What needs a GPU
(launches, scheduling, the engine's graphs) is tests/test_cuda.py's."""
import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from brisknet import _core

ROOT = Path(__file__).resolve().parents[1]
F32 = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
I32 = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS")
I64 = np.ctypeslib.ndpointer(np.int64, flags="C_CONTIGUOUS")
U8 = np.ctypeslib.ndpointer(np.uint8, flags="C_CONTIGUOUS")
N = ctypes.c_int64


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not compiler:
        pytest.skip("no C++ compiler to build the CUDA kernels for the host")
    library = tmp_path_factory.mktemp("cuda_host") / "image_kernels.so"
    # -ffp-contract=off: sums and products rounded one at a time, as the CPU kernels. Under the
    # sanitizer job (.ci/sanitize preloads ASan), the kernels are instrumented too: an index out of
    # an array's bounds fails here; the compiler itself runs without the preload.
    env = dict(os.environ)
    sanitize = "libasan" in env.pop("LD_PRELOAD", "")
    subprocess.run([compiler, "-std=c++17", "-O1", "-ffp-contract=off", "-shared", "-fPIC",
                    *(["-fsanitize=address,undefined", "-fno-sanitize-recover=all"] if sanitize else []),
                    f"-I{ROOT / 'cuda'}", f"-I{ROOT / 'cpp' / 'include'}",
                    str(ROOT / "tests" / "cuda_image_kernels_host.cpp"), "-o", str(library)], check=True, env=env)
    lib = ctypes.CDLL(str(library))
    signatures = {
        "host_im2col": [F32, F32, I64, N, N],
        "host_col2im": [F32, F32, I64, N, N, ctypes.c_void_p],
        "host_max_pool": [F32, I32, F32, I64],
        "host_max_pool_grad": [F32, F32, I32, I64],
        "host_avg_pool": [F32, F32, I64],
        "host_avg_pool_grad": [F32, F32, I64],
        "host_shift": [F32, F32] + [N] * 8,
        "host_upsample": [F32, F32] + [N] * 6,
        "host_upsample_grad": [F32, F32] + [N] * 6,
        "host_spatial_dropout": [F32, U8, F32, N, N, N, ctypes.c_float, ctypes.c_uint64, I64, I64],
        "host_dropout_step_seed": [ctypes.c_uint64, N],
    }
    for name, args in signatures.items():
        getattr(lib, name).argtypes = args
        getattr(lib, name).restype = ctypes.c_uint64 if name == "host_dropout_step_seed" else None
    return lib


def window(n, h, w, c, kernel, strides=(1, 1), dilation=(1, 1), pad=(0, 0), pad_after=(0, 0)):
    """Window2D's 14 fields, the output size from the padding on both sides."""
    oh = (h + pad[0] + pad_after[0] - dilation[0] * (kernel[0] - 1) - 1) // strides[0] + 1
    ow = (w + pad[1] + pad_after[1] - dilation[1] * (kernel[1] - 1) - 1) // strides[1] + 1
    return np.array([n, h, w, c, *kernel, *strides, *dilation, *pad, oh, ow], np.int64)


def cpu_args(g):
    return dict(kernel=tuple(g[4:6]), strides=tuple(g[6:8]), dilation=tuple(g[8:10]), pad=tuple(g[10:12]),
                out=tuple(g[12:14]))


CONVOLUTIONS = [  # (n, h, w, c, kernel, strides, dilation, pad, pad_after, filters, groups)
    (2, 7, 6, 3, (3, 3), (1, 1), (1, 1), (0, 0), (0, 0), 4, 1),
    (3, 8, 7, 4, (2, 3), (2, 2), (1, 1), (0, 1), (0, 1), 6, 2),  # strided, 'same'-like padding, groups
    (2, 9, 8, 2, (3, 3), (1, 1), (2, 1), (2, 1), (2, 1), 3, 1),  # dilated (unequal)
    (1, 5, 8, 4, (3, 1), (1, 2), (1, 1), (1, 0), (1, 0), 4, 4),  # depthwise-like
]


@pytest.mark.parametrize("case", CONVOLUTIONS)
def test_a_convolution_as_im2col_and_a_gemm_matches_the_cpu_kernels(kernels, rng, case):
    n, h, w, c, kernel, strides, dilation, pad, pad_after, filters, groups = case
    g = window(n, h, w, c, kernel, strides, dilation, pad, pad_after)
    positions, cg, fg = n * g[12] * g[13], c // groups, filters // groups
    k = kernel[0] * kernel[1] * cg
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    wk = rng.standard_normal((k, filters)).astype(np.float32)
    bias = rng.standard_normal(filters).astype(np.float32)
    dz = rng.standard_normal((positions, filters)).astype(np.float32)
    # the CUDA engine's GEMMs, group by group, over the host-built patches (float64 GEMMs here)
    z = np.zeros((positions, filters))
    dw = np.zeros((k, filters))
    dx = np.zeros((n, h, w, c), np.float32)
    for group in range(groups):
        cols = np.empty((positions, k), np.float32)
        kernels.host_im2col(cols, x, g, group * cg, cg)
        part = slice(group * fg, (group + 1) * fg)
        z[:, part] = cols.astype(np.float64) @ wk[:, part] + bias[part]
        dw[:, part] = cols.T.astype(np.float64) @ dz[:, part]
        dcols = (dz[:, part].astype(np.float64) @ wk[:, part].T).astype(np.float32)
        kernels.host_col2im(dx, dcols, g, group * cg, cg, None)
    # the CPU kernels in float64 on the same values
    want_z = np.empty((positions, filters))
    _core.conv2d_forward(want_z, x.astype(np.float64), wk.astype(np.float64), bias.astype(np.float64),
                         groups=groups, **cpu_args(g))
    want_dw, want_dx = np.empty((k, filters)), np.empty((n, h, w, c))
    _core.conv2d_backward(want_dw, want_dx, dz.astype(np.float64), x.astype(np.float64), wk.astype(np.float64),
                          groups=groups, **cpu_args(g))
    np.testing.assert_allclose(z, want_z, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, want_dw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-5, atol=1e-5)  # (dcols rounded to float32)


def test_a_transposed_convolution_adds_its_patches_and_bias_back_as_the_cpu(kernels, rng):
    g = window(2, 7, 6, 3, (3, 3), (2, 2), (1, 1), (1, 1), (1, 1))
    positions, k, channels = 2 * g[12] * g[13], 9 * 3, 5
    x = rng.standard_normal((positions, channels)).astype(np.float32)
    wk = rng.standard_normal((k, channels)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    cols = (x.astype(np.float64) @ wk.T.astype(np.float64)).astype(np.float32)
    y = np.empty((2, 7, 6, 3), np.float32)
    kernels.host_col2im(y, cols, g, 0, 3, bias.ctypes.data)
    want = np.empty((2, 7, 6, 3))
    _core.conv2d_transpose(want, x.astype(np.float64), wk.astype(np.float64), **cpu_args(g))
    np.testing.assert_allclose(y, want + bias, rtol=1e-5, atol=1e-5)


POOLS = [  # (n, h, w, c, kernel, strides, pad, pad_after)
    (2, 6, 6, 3, (2, 2), (2, 2), (0, 0), (0, 0)),
    (2, 7, 5, 4, (3, 3), (2, 2), (1, 1), (1, 1)),  # overlapping windows in 'same' padding
    (1, 5, 9, 2, (2, 3), (1, 2), (0, 1), (0, 1)),
    (3, 4, 4, 1, (4, 4), (1, 1), (0, 0), (0, 0)),  # one window: global pooling
    (2, 6, 6, 11, (2, 2), (2, 2), (0, 0), (0, 0)),  # channels in vectors of 8 on the CPU, and a rest
    (2, 7, 5, 19, (3, 3), (2, 2), (1, 1), (1, 1)),
]


@pytest.mark.parametrize("case", POOLS)
def test_pooling_and_its_gradients_give_the_cpu_kernels_bits(kernels, rng, case):
    n, h, w, c, kernel, strides, pad, pad_after = case
    g = window(n, h, w, c, kernel, strides, (1, 1), pad, pad_after)
    out = (n, g[12], g[13], c)
    x = rng.standard_normal((n, h, w, c)).astype(np.float32)
    x[0, 1, 1, 0] = x[0, 1, 2, 0] = x.max() + 1  # a tie: the first maximum wins
    x[-1, 0, 0, -1] = x[-1, 1, 0, min(3, c - 1)] = np.nan  # a NaN wins over numbers
    dy = rng.standard_normal(out).astype(np.float32)
    args = dict(kernel=kernel, strides=strides, pad=pad, out=tuple(g[12:14]))
    y, at = np.empty(out, np.float32), np.empty(out, np.int32)
    kernels.host_max_pool(y, at, x, g)
    want_y, want_at = np.empty(out, np.float32), np.empty(out, np.int32)
    _core.pool_forward(want_y, want_at, x, **args)
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(at, want_at)
    dx, want_dx = np.empty_like(x), np.empty_like(x)
    kernels.host_max_pool_grad(dx, dy, at, g)
    _core.pool_backward(want_dx, dy, want_at, **args)
    np.testing.assert_array_equal(dx, want_dx)

    x = np.nan_to_num(x)
    kernels.host_avg_pool(y, x, g)
    _core.pool_forward(want_y, None, x, **args)
    np.testing.assert_array_equal(y, want_y)
    kernels.host_avg_pool_grad(dx, dy, g)
    _core.pool_backward(want_dx, dy, None, **args)
    np.testing.assert_array_equal(dx, want_dx)


@pytest.mark.parametrize("top,left,out", [(1, 0, (8, 6)), (-1, -2, (4, 2)), (2, -1, (7, 5))])
def test_padding_and_cropping_move_the_image_as_the_cpu(kernels, rng, top, left, out):
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    y, want = np.empty((2, *out, 3), np.float32), np.empty((2, *out, 3), np.float32)
    kernels.host_shift(y, x, 2, 5, 5, 3, *out, top, left)
    _core.shift_image(want, x, top, left)
    np.testing.assert_array_equal(y, want)
    back, want_back = np.empty_like(x), np.empty_like(x)  # the gradient: the same move back
    kernels.host_shift(back, y, 2, *out, 3, 5, 5, -top, -left)
    _core.shift_image(want_back, want, -top, -left)
    np.testing.assert_array_equal(back, want_back)


def test_upsampling_and_its_gradient_give_the_cpu_kernels_bits(kernels, rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    up, want = np.empty((2, 6, 12, 5), np.float32), np.empty((2, 6, 12, 5), np.float32)
    kernels.host_upsample(up, x, 2, 3, 4, 5, 2, 3)
    _core.upsample(want, x, 2, 3)
    np.testing.assert_array_equal(up, want)
    dy = rng.standard_normal(up.shape).astype(np.float32)
    dx, want_dx = np.empty_like(x), np.empty_like(x)
    kernels.host_upsample_grad(dx, dy, 2, 3, 4, 5, 2, 3)
    _core.upsample(want_dx, dy, 2, 3, backward=True)
    np.testing.assert_array_equal(dx, want_dx)


def test_spatial_dropout_draws_the_cpu_engine_s_masks(kernels, rng):
    x = rng.standard_normal((16, 5, 5, 8)).astype(np.float32)
    base, calls, step = 1234, 7, 3  # the engine's mask for step 3 of a run after 7 masks drawn
    y, mask = np.empty_like(x), np.empty(x.shape, np.uint8)
    kernels.host_spatial_dropout(y, mask, x, 16, 25 * 8, 8, 0.4, base, np.array([calls]), np.array([step]))
    want_y, want_mask = np.empty_like(x), np.empty(x.shape, np.uint8)
    _core.spatial_dropout_forward(want_y, want_mask, x, 0.4, kernels.host_dropout_step_seed(base, calls + step))
    np.testing.assert_array_equal(mask, want_mask)
    np.testing.assert_array_equal(y, want_y)
    assert 0 < mask.mean() < 1 and (mask == mask[:, :1, :1, :]).all()  # whole channels
