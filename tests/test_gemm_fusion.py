"""The work fused into GEMM (a Dense layer's three passes in kernels): bit-identical to the separate
kernels, close to numpy, on every path of the GEMM (packed tiles, edge tiles, several k blocks,
the few-rows path, k = 0), and refusing what cannot be fused."""
import numpy as np
import pytest

from brisknet import kernels

import reference as ref

ELEMENTWISE = [a for a in kernels.ACTIVATIONS if a not in ("softmax", "log_softmax", "silu")]
# (rows, inputs, outputs): packed tiles with edges, two k blocks (k > 512), the few-rows path
SHAPES = [(32, 784, 1000), (9, 13, 50), (145, 600, 97), (3, 40, 70), (1, 5, 1), (20, 0, 7)]


def operands(rng, m, k, n, dtype=np.float32):
    x = rng.standard_normal((m, k)).astype(dtype)
    w = (rng.standard_normal((k, n)) / max(1, np.sqrt(k))).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("act", ELEMENTWISE)
def test_dense_forward_is_matmul_then_activation(rng, shape, act):
    x, w, b = operands(rng, *shape)
    z, y = kernels.dense_forward(x, w, b, act)
    z_sep = kernels.matmul(x, w, bias=b)
    np.testing.assert_array_equal(z, z_sep)
    np.testing.assert_array_equal(y, kernels.activation(z_sep, act))
    want = ref.ACTIVATIONS[act](x.astype(np.float64) @ w + b)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("act", ELEMENTWISE)
def test_dense_input_grad_is_matmul_then_activation_grad(rng, shape, act):
    m, k, n = shape
    dz = rng.standard_normal((m, n)).astype(np.float32)
    w = rng.standard_normal((k, n)).astype(np.float32)
    x_prev = rng.standard_normal((m, k)).astype(np.float32)
    y_prev = kernels.activation(x_prev, act)
    got = kernels.dense_input_grad(dz, w, x_prev, y_prev, act)
    want = kernels.activation_grad(kernels.matmul(dz, w, transpose_b=True), x_prev, y_prev, act)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", SHAPES + [(600, 30, 40), (2, 1, 3), (5000, 20, 70)])  # (k beyond a panel's depth)
def test_dense_params_grad_sums_bias_while_packing(rng, shape):
    m, k, n = shape  # h is (m, k), dz (m, n): the batch m is the GEMM's reduction
    h = rng.standard_normal((m, k)).astype(np.float32)
    dz = rng.standard_normal((m, n)).astype(np.float32)
    dw, db = kernels.dense_params_grad(h, dz)
    np.testing.assert_array_equal(dw, kernels.matmul(h, dz, transpose_a=True))
    np.testing.assert_array_equal(db, kernels.column_sums(dz))
    np.testing.assert_allclose(db, dz.sum(axis=0, dtype=np.float64), rtol=1e-5, atol=1e-4)


def test_float64_and_thread_counts_agree(rng):
    import brisknet
    x, w, b = operands(rng, 70, 300, 130, np.float64)
    results = []
    for threads in (1, 2, 5):
        brisknet.set_num_threads(threads)
        results.append(kernels.dense_forward(x, w, b, "gelu")[1])
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    np.testing.assert_allclose(results[0], ref.ACTIVATIONS["gelu"](x @ w + b), rtol=1e-12, atol=1e-12)


def test_row_wise_activations_are_refused(rng):
    x, w, b = operands(rng, 4, 5, 6)
    for act in ("softmax", "log_softmax"):
        with pytest.raises(ValueError, match="cannot be fused"):
            kernels.dense_forward(x, w, b, act)
        with pytest.raises(ValueError, match="cannot be fused"):
            kernels.dense_input_grad(np.ones((4, 6), np.float32), w, x, x, act)


def test_bad_fused_buffers_raise(rng):
    from brisknet import _core
    x, w, b = operands(rng, 4, 5, 6)
    out = np.empty((4, 6), np.float32)
    with pytest.raises(ValueError, match="activation_out: expected shape"):
        _core.gemm(out, x, w, False, False, 0.0, None, activation=_core.Activation.relu,
                   activation_out=np.empty((4, 5), np.float32))
    buf = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match="activation_out overlaps a"):
        _core.gemm(out, buf[:, :5], w, False, False, 0.0, None, activation=_core.Activation.relu,
                   activation_out=buf)
    with pytest.raises(ValueError, match="exclude each other"):
        _core.gemm(out, x, w, False, False, 0.0, None, activation=_core.Activation.relu,
                   activation_out=np.empty((4, 6), np.float32), grad_x=np.empty((4, 6), np.float32))
    with pytest.raises(ValueError, match="grad_x overlaps|out overlaps grad_x"):
        _core.gemm(out, x, w, False, False, 0.0, None, activation=_core.Activation.relu, grad_x=out)
    with pytest.raises(ValueError, match="b_column_sums: expected 6 elements"):
        _core.gemm(out, x, w, False, False, 0.0, None, b_column_sums=np.empty(5, np.float32))
    with pytest.raises(TypeError, match="b_column_sums: expected dtype float32"):
        _core.gemm(out, x, w, False, False, 0.0, None, b_column_sums=np.empty(6, np.float64))
