"""GEMM against numpy: every transpose case, edge tiles, bias, beta, strided views, both dtypes,
every ISA path, and bit-identical results for any thread count."""
import numpy as np
import pytest

import brisknet
from brisknet import kernels, testing

from isa_paths import ISAS, run_isa_subprocess


# 1, primes, and one less / one more than register tiles (MR 6/8/12/16, NR 8/16/32/48) and
# typical cache blocks (kc 192-512 come from the CPU's caches; test_blocks_* use this CPU's own).
ODD_SIZES = [1, 2, 7, 9, 11, 13, 31, 33, 47, 49, 71, 73, 95, 97, 143, 145, 255, 257, 511, 513]


def operands(rng, m, k, n, ta, tb, dtype=np.float32):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def check_product(got, a, b, ta=False, tb=False, bias=None, dtype=np.float32):
    """Within the floating-point bound of numpy's float64 product, and equal bit for bit to the
    triple loop that sums in the packed GEMM's order."""
    testing.assert_close(got, testing.matmul(a, b, ta, tb, bias), testing.matmul_error_bound(a, b, ta, tb, bias, dtype))
    np.testing.assert_array_equal(got, testing.matmul_in_gemm_order(a, b, ta, tb, bias))


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposes_and_bias(rng, ta, tb, dtype):
    for m, k, n in [(32, 784, 1000), (13, 17, 29), (1, 1, 1), (97, 257, 33)]:
        a, b = operands(rng, m, k, n, ta, tb, dtype)
        bias = rng.standard_normal(n).astype(dtype)
        out = kernels.matmul(a, b, ta, tb, bias=bias)
        assert out.dtype == dtype and out.shape == (m, n)
        check_product(out, a, b, ta, tb, bias, dtype)


@pytest.mark.parametrize("ta", [False, True])
def test_k_deeper_than_a_panel(rng, ta):
    """k split over several B panels (gemm.cpp's panel_depth): C accumulates them in order."""
    a, b = operands(rng, 20, 5000, 40, ta, False)
    check_product(kernels.matmul(a, b, ta), a, b, ta)


@pytest.mark.parametrize("m", ODD_SIZES)
def test_odd_shapes(rng, m):
    for k in (1, 7, 257, 513):
        for n in (1, 15, 17, 23, 25, 33, 47, 49):
            a, b = operands(rng, m, k, n, False, False)
            check_product(kernels.matmul(a, b), a, b)


def test_beta_accumulates_and_beta0_never_reads_out(rng):
    a, b = operands(rng, 40, 300, 50, False, False)
    c = rng.standard_normal((40, 50)).astype(np.float32)
    want, bound = c + testing.matmul(a, b), testing.matmul_error_bound(a, b) + np.spacing(np.abs(c))
    in_order = testing.matmul_in_gemm_order(a, b, beta=1.0, out=c.copy())
    kernels.matmul(a, b, out=c, beta=1.0)
    testing.assert_close(c, want, bound)
    np.testing.assert_array_equal(c, in_order)
    garbage = np.full((40, 50), np.nan, np.float32)  # beta = 0 must not propagate NaN from out
    kernels.matmul(a, b, out=garbage)
    assert np.isfinite(garbage).all()


def test_strided_views_are_read_in_place(rng):
    big = rng.standard_normal((64, 90)).astype(np.float32)
    a = big[::2, 5:70]          # non-contiguous rows
    b = np.ascontiguousarray(rng.standard_normal((65, 20)).astype(np.float32))[::-1]  # negative stride
    check_product(kernels.matmul(a, b), a, b)
    f = np.asfortranarray(rng.standard_normal((33, 65)).astype(np.float32))
    check_product(kernels.matmul(f, b), f, b)


def test_k_zero_gives_bias_or_zeros(rng):
    a = np.zeros((3, 0), np.float32)
    b = np.zeros((0, 4), np.float32)
    np.testing.assert_array_equal(kernels.matmul(a, b), np.zeros((3, 4)))
    bias = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(kernels.matmul(a, b, bias=bias), np.tile(bias, (3, 1)))


def test_integer_inputs_are_cast_like_numpy():
    a = np.arange(6).reshape(2, 3)
    b = np.arange(12).reshape(3, 4)
    out = kernels.matmul(a, b)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, a @ b)


@pytest.mark.parametrize("shape", [(200, 900, 300), (30, 5000, 70)])  # (k beyond one B panel's depth)
def test_bit_identical_for_any_thread_count(rng, shape):
    a, b = operands(rng, *shape, False, True)
    results = []
    for threads in (1, 2, 3, 16):
        brisknet.set_num_threads(threads)
        results.append(kernels.matmul(a, b, transpose_b=True))
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


@pytest.mark.parametrize("k", [1, 7, 300, 513, 1300])  # one and several k blocks
@pytest.mark.parametrize("ta", [False, True])
def test_each_row_is_independent_of_its_batch(rng, k, ta):
    """The few-rows path (<= 4 rows) performs the packed path's operations in the same order, so
    a prediction is bit-identical whatever batch it is computed in."""
    a, b = operands(rng, 23, k, 70, ta, False)
    bias = rng.standard_normal(70).astype(np.float32)
    whole = kernels.matmul(a, b, ta, bias=bias)
    for i in range(23):
        row = a[:, i:i + 1] if ta else a[i:i + 1]
        np.testing.assert_array_equal(kernels.matmul(row, b, ta, bias=bias)[0], whole[i])
    four = kernels.matmul(a[:, 3:7] if ta else a[3:7], b, ta, bias=bias)
    np.testing.assert_array_equal(four, whole[3:7])


def test_column_sums(rng):
    dy = rng.standard_normal((37, 300)).astype(np.float32)
    np.testing.assert_allclose(kernels.column_sums(dy), dy.sum(axis=0, dtype=np.float64), rtol=1e-5, atol=1e-5)
    acc = np.ones(300, np.float32)
    kernels.column_sums(dy, out=acc, beta=1.0)
    np.testing.assert_allclose(acc, 1 + dy.sum(axis=0, dtype=np.float64), rtol=1e-5, atol=1e-5)


ISA_CHECK = """
import numpy as np, brisknet
from brisknet import kernels, testing
rng = np.random.default_rng(0)
for m, k, n in [(1, 1, 1), (3, 300, 700), (4, 17, 5), (40, 100, 10), (13, 513, 33), (145, 257, 95), (32, 784, 1000)]:
    for ta in (False, True):
        for tb in (False, True):
            for dt in (np.float32, np.float64):
                a = rng.standard_normal((k, m) if ta else (m, k)).astype(dt)
                b = rng.standard_normal((n, k) if tb else (k, n)).astype(dt)
                bias = rng.standard_normal(n).astype(dt)
                got = kernels.matmul(a, b, ta, tb, bias=bias)
                testing.assert_close(got, testing.matmul(a, b, ta, tb, bias),
                                     testing.matmul_error_bound(a, b, ta, tb, bias, dt), (m, k, n, ta, tb, dt))
                assert np.array_equal(got, testing.matmul_in_gemm_order(a, b, ta, tb, bias)), (m, k, n, ta, tb, dt)
    # the fused Dense passes equal the separate kernels on this path too
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    dz = rng.standard_normal((m, n)).astype(np.float32)
    z, y = kernels.dense_forward(x, w, None, "elu")
    assert np.array_equal(y, kernels.activation(kernels.matmul(x, w), "elu"))
    x[0, 0] = np.nan  # ReLU, written by the micro-kernel itself: a NaN row stays NaN, zeros are +0
    z, y = kernels.dense_forward(x, w, None, "relu")
    want = kernels.activation(kernels.matmul(x, w), "relu")
    assert np.array_equal(y, want, equal_nan=True) and np.array_equal(np.signbit(y), np.signbit(want))
    x[0, 0] = 0.5
    g = kernels.dense_input_grad(dz, w, x, kernels.activation(x, "tanh"), "tanh")
    assert np.array_equal(g, kernels.activation_grad(kernels.matmul(dz, w, transpose_b=True), x, kernels.activation(x, "tanh"), "tanh"))
    dw, db = kernels.dense_params_grad(x, dz)
    assert np.array_equal(db, kernels.column_sums(dz)) and np.array_equal(dw, kernels.matmul(x, dz, transpose_a=True))
    # a row's result does not depend on the rows beside it (few-rows path == packed path)
    whole = kernels.matmul(x, w)
    assert all(np.array_equal(kernels.matmul(x[i:i + 1], w)[0], whole[i]) for i in range(m)), (m, k, n)
# batches of other sizes pick other register tiles (by padded area), and small ones read B in
# place instead of packing it: the same bits in every row
x = rng.standard_normal((150, 700)).astype(np.float32)
for n in (10, 16, 40, 96, 1000):
    w = rng.standard_normal((700, n)).astype(np.float32)
    whole = kernels.matmul(x, w)
    for rows in (5, 8, 12, 16, 30, 36, 40, 64, 65, 100):
        assert np.array_equal(kernels.matmul(x[:rows], w), whole[:rows]), (rows, n)
# narrow outputs read B in place: a column slice of a wider B (values past n belong to other
# columns), a zero-stride B (every row the same) and a B whose last row ends the buffer
big = rng.standard_normal((700, 40)).astype(np.float32)
for b in (big[:, :10], np.broadcast_to(big[0, :7], (700, 7)), big[:, 33:]):
    got = kernels.matmul(x, b)
    testing.assert_close(got, testing.matmul(x, b), testing.matmul_error_bound(x, b), b.strides)
    assert np.array_equal(got, kernels.matmul(x, np.ascontiguousarray(b)))
print(brisknet.cpu_info()["gemm_isa"])
"""


@pytest.mark.parametrize("isa", ISAS)
def test_every_isa_path(isa):
    """BRISKNET_ISA narrows the kernel; each path is checked against numpy on this machine."""
    res = run_isa_subprocess(ISA_CHECK, isa)
    assert res.returncode == 0, res.stderr
    chosen = res.stdout.strip()
    best = run_isa_subprocess("import brisknet; print(brisknet.cpu_info()['gemm_isa'])", "").stdout.strip()
    order = ["generic", "avx2", "avx512"]
    assert chosen == order[min(order.index(isa), order.index(best))]


def test_blocks_come_from_this_cpus_caches():
    g = brisknet.cpu_info()["gemm"]
    l1_bytes, l1_ways = g["caches"]["l1d"]
    assert l1_bytes >= 8 << 10 and l1_ways >= 1 and g["caches"]["source"] in ("cpuid", "sysfs", "defaults")
    mr, nr, rate = g["tiles"][0]
    assert rate == 1.0
    # kc: a B strip and an A strip in all but one way of L1 (a multiple of 16 in [64, 1024])
    assert g["kc"] % 16 == 0 and 64 <= g["kc"] <= 1024
    assert g["kc"] == 64 or (nr + mr) * 4 * g["kc"] <= l1_bytes * (l1_ways - 1) // l1_ways
    assert (nr + mr) * 4 * (g["kc"] + 16) > l1_bytes * (l1_ways - 1) // l1_ways or g["kc"] == 1024
    assert g["mc"] % mr == 0 and g["nc"] % nr == 0 and str(g["kc"]) in g["why"]


@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_k_block_edges_of_this_cpu(rng, blocks):
    """One less, exactly and one more than whole k blocks of this CPU's kc."""
    kc = brisknet.cpu_info()["gemm"]["kc"]
    for k in (blocks * kc - 1, blocks * kc, blocks * kc + 1):
        a, b = operands(rng, 37, k, 70, False, False)
        check_product(kernels.matmul(a, b), a, b)


def test_peak_probe():
    """The micro-kernel's L1-resident speed, which `python -m brisknet bench` reports as peak."""
    from brisknet import _core
    brisknet.set_num_threads(1)
    one = _core.gemm_peak_gflops(0.05)
    assert one > 1.0  # even the generic kernel on a slow machine does more than a GFLOP/s
    with pytest.raises(ValueError, match="seconds"):
        _core.gemm_peak_gflops(0.0)
