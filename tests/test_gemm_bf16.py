"""The bf16 GEMM (mixed precision): every path against numpy on operands rounded to bfloat16,
the emulated path bit for bit equal to the VDPBF16PS path, bits independent of threads, the fused
epilogues, and the rounding itself."""
import numpy as np
import pytest

import brisknet
from brisknet import kernels, testing

PATHS = kernels.bf16_paths()
# Each element of C is one chain of float32 additions from zero (or beta * C), in pairs of k:
# k roundings, as a float32 GEMM (the AMX path's own order within a tile: no worse).
SHAPES = [(1, 1, 1), (7, 5, 3), (33, 70, 129), (97, 33, 257), (128, 300, 784), (64, 1000, 33)]


@pytest.fixture
def path(request):
    before = kernels.bf16_path()
    kernels.set_bf16_path(request.param)
    yield request.param
    kernels.set_bf16_path(before)


def reference(a, b, ta=False, tb=False, bias=None):
    ra, rb = testing.round_to_bfloat16(a), testing.round_to_bfloat16(b)
    want = testing.matmul(ra, rb, ta, tb, bias)
    return want, testing.matmul_error_bound(ra, rb, ta, tb, bias)


@pytest.mark.parametrize("path", PATHS, indirect=True)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_paths_against_numpy_on_rounded_operands(rng, path, ta, tb):
    for m, k, n in SHAPES:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
        bias = rng.standard_normal(n).astype(np.float32)
        got = kernels.matmul(a, b, ta, tb, bias=bias, bf16=True)
        want, bound = reference(a, b, ta, tb, bias)
        testing.assert_close(got, want, bound, f"{path} {(m, k, n)}")
        # and it is a bf16 product: the float32 product of the unrounded operands differs
        if k > 8:
            assert not np.array_equal(got, kernels.matmul(a, b, ta, tb, bias=bias))


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_beta_accumulates(rng, path):
    a = rng.standard_normal((45, 300)).astype(np.float32)
    b = rng.standard_normal((300, 70)).astype(np.float32)
    c0 = rng.standard_normal((45, 70)).astype(np.float32)
    for beta in (1.0, 0.5):
        out = c0.copy()
        kernels.matmul(a, b, out=out, beta=beta, bf16=True)
        want, bound = reference(a, b)
        testing.assert_close(out, want + beta * c0.astype(np.float64), bound + np.abs(c0) * 2e-7)


@pytest.mark.skipif("avx512_bf16" not in PATHS, reason="this CPU has no AVX512-BF16")
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_emulated_equals_the_instruction_bit_for_bit(rng, ta, tb):
    """The promise of the emulation: a CPU without bf16 instructions computes the same bits."""
    before = kernels.bf16_path()
    try:
        for m, k, n in SHAPES + [(512, 1000, 100), (3, 4001, 17)]:
            # a wide range of magnitudes, so that every rounding of the chain matters
            a = (rng.standard_normal((k, m) if ta else (m, k)) * 2.0 ** rng.integers(-20, 20, (k, m) if ta else (m, k))).astype(np.float32)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
            c0 = rng.standard_normal((m, n)).astype(np.float32)  # (beta = 1: the chain starts from C)
            outs = []
            for p in ("avx512_bf16", "emulated"):
                kernels.set_bf16_path(p)
                out = c0.copy()
                kernels.matmul(a, b, ta, tb, out=out, beta=1.0, bf16=True)
                outs.append(out)
            np.testing.assert_array_equal(outs[0].view(np.uint32), outs[1].view(np.uint32))
    finally:
        kernels.set_bf16_path(before)


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_bits_do_not_depend_on_threads(rng, path):
    a = rng.standard_normal((300, 513)).astype(np.float32)
    b = rng.standard_normal((513, 257)).astype(np.float32)
    before = brisknet.get_num_threads()
    try:
        brisknet.set_num_threads(1)
        one = kernels.matmul(a, b, bf16=True)
        brisknet.set_num_threads(2)
        two = kernels.matmul(a, b, bf16=True)
    finally:
        brisknet.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_fused_dense_passes(rng, path):
    """Forward (bias + ReLU), input gradient (ReLU's gradient) and weight gradient (+ bias
    gradient, summed in float32 from the unrounded dz): each equals the unfused bf16 product."""
    x = rng.standard_normal((70, 129)).astype(np.float32)
    w = rng.standard_normal((129, 45)).astype(np.float32)
    bias = rng.standard_normal(45).astype(np.float32)
    z, y = kernels.dense_forward(x, w, bias, "relu", bf16=True)
    np.testing.assert_array_equal(z, kernels.matmul(x, w, bias=bias, bf16=True))
    np.testing.assert_array_equal(y, np.maximum(z, 0))
    dz = rng.standard_normal((70, 45)).astype(np.float32)
    x_prev = rng.standard_normal((70, 129)).astype(np.float32)
    dx = kernels.dense_input_grad(dz, w, x_prev, np.maximum(x_prev, 0), "relu", bf16=True)
    np.testing.assert_array_equal(dx, np.where(x_prev > 0, kernels.matmul(dz, w, transpose_b=True, bf16=True), 0))
    dw, db = kernels.dense_params_grad(x, dz, bf16=True)
    np.testing.assert_array_equal(dw, kernels.matmul(x, dz, transpose_a=True, bf16=True))
    np.testing.assert_array_equal(db, kernels.column_sums(dz))


@pytest.mark.parametrize("path", PATHS, indirect=True)
def test_rounding_is_vcvtneps2bf16s(path):
    """x @ I is x rounded (the chain from +0 makes a -0 +0): ties to even, denormals to zero,
    overflow to infinity."""
    ties = [1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, -(1 + 2.0 ** -8)]  # halfway between two bf16 values
    x = np.float32(ties + [1e-39, -1e-39, 1.17549435e-38, 0.1, -7.3, 3.0e38]).reshape(1, -1).repeat(6, axis=0)
    got = kernels.matmul(x, np.eye(x.shape[1], dtype=np.float32), bf16=True)
    np.testing.assert_array_equal(got, testing.round_to_bfloat16(x))
    assert list(got[0, :3]) == [1.0, 1 + 2.0 ** -6, -1.0]
    assert got[0, 3] == 0 and got[0, 4] == 0
    big = kernels.matmul(np.float32([[3.4e38, 1.0]]), np.float32([[1.0], [0.0]]), bf16=True)
    assert np.isposinf(big[0, 0])


def test_round_to_bfloat16_matches_torch_on_normal_numbers(rng):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal(100_000) * 2.0 ** rng.integers(-100, 100, 100_000)).astype(np.float32)
    want = torch.from_numpy(x).to(torch.bfloat16).to(torch.float32).numpy()
    np.testing.assert_array_equal(testing.round_to_bfloat16(x), want)


def test_bad_arguments():
    with pytest.raises(ValueError, match="float32"):
        kernels.matmul(np.ones((2, 2)), np.ones((2, 2)), bf16=True)
    with pytest.raises(ValueError, match="unknown bf16 path"):
        kernels.set_bf16_path("fp8")
    assert kernels.bf16_paths()[-1] == "emulated" and kernels.bf16_path() in kernels.bf16_paths()
    assert brisknet.cpu_info()["bf16_path"] == kernels.bf16_path()
