"""Property test: random shapes, dtypes, strides and transposes thrown at every kernel (matmul,
activations, losses, optimizer steps, column sums, dropout) either match numpy or raise a Python
exception; never a crash or a wrong number."""
import numpy as np
from hypothesis import given, settings, strategies as st

import reference as ref
from brisknet import kernels, testing

DTYPES = st.sampled_from([np.float32, np.float64, np.int32, np.float16, np.bool_])


@st.composite
def strided(draw, rows, cols, dtype):
    """A (rows, cols) array that may be a transposed, sliced or reversed view."""
    step_r, step_c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    base = np.arange((rows * step_r + 1) * (cols * step_c + 1)).reshape(rows * step_r + 1, cols * step_c + 1)
    base = (np.sin(base) * 3).astype(dtype)
    view = base[:rows * step_r:step_r, :cols * step_c:step_c]
    if draw(st.booleans()):
        view = view[::-1]
    return view


@settings(max_examples=150, deadline=None)
@given(m=st.integers(0, 40), k=st.integers(0, 40), n=st.integers(0, 40), kb=st.integers(0, 40),
       ta=st.booleans(), tb=st.booleans(), da=DTYPES, db=DTYPES, data=st.data())
def test_matmul_matches_numpy_or_raises(m, k, n, kb, ta, tb, da, db, data):
    a = data.draw(strided(k, m, da) if ta else strided(m, k, da))
    b = data.draw(strided(n, kb, db) if tb else strided(kb, n, db))
    A, B = (a.T if ta else a), (b.T if tb else b)
    try:
        got = kernels.matmul(a, b, ta, tb)
    except (ValueError, TypeError):
        assert k != kb  # the only invalid case here: mismatched inner dimensions
        return
    assert k == kb
    testing.assert_close(got, testing.matmul(A, B), testing.matmul_error_bound(A, B, dtype=got.dtype))


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(0, 20), cols=st.integers(0, 20), dtype=DTYPES,
       name=st.sampled_from(sorted(kernels.ACTIVATIONS)), data=st.data())
def test_activations_on_any_layout(rows, cols, dtype, name, data):
    x = data.draw(strided(rows, cols, dtype))
    y = kernels.activation(x, name)
    assert y.shape == x.shape
    again = kernels.activation(np.ascontiguousarray(x, dtype=y.dtype), name)
    np.testing.assert_array_equal(y, again)

LOSSES = {"mse": (kernels.mean_squared_error, ref.mse), "mae": (kernels.mean_absolute_error, ref.mae),
          "huber": (kernels.huber, ref.huber), "bce-logits": (lambda t, p: kernels.binary_crossentropy(t, p, True),
                                                        lambda t, p: ref.bce(t, p, True)),
          "cce-logits": (lambda t, p: kernels.categorical_crossentropy(t, p, True), lambda t, p: ref.cce(t, p, True))}


def close(got, want, dtype):
    tol = 1e-3 if np.dtype(dtype) != np.float64 else 1e-9
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol, atol=tol)


@settings(max_examples=150, deadline=None)
@given(rows=st.integers(0, 12), cols=st.integers(0, 12), cols_pred=st.integers(0, 12), dt=DTYPES, dp=DTYPES,
       loss=st.sampled_from(sorted(LOSSES)), data=st.data())
def test_losses_match_numpy_or_raise(rows, cols, cols_pred, dt, dp, loss, data):
    target = data.draw(strided(rows, cols, dt))
    pred = data.draw(strided(rows, cols_pred, dp))
    fn, reference = LOSSES[loss]
    try:
        got = fn(target, pred)
    except (ValueError, TypeError):
        assert cols != cols_pred or cols == 0  # only mismatched widths, or no classes at all, may be refused
        return
    assert cols == cols_pred  # mismatched widths must have raised
    if cols == 0:  # a mean over no outputs: numpy says nan, the kernels 0; either is no crash
        return
    # computed in the predictions' float dtype (float64 stays float64, anything else is float32)
    close(got, reference(np.asarray(target, np.float64), np.asarray(pred, got.dtype).astype(np.float64)), got.dtype)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 50), n_grad=st.integers(0, 50), dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(["sgd", "momentum", "adam", "rmsprop", "adagrad"]), data=st.data())
def test_optimizer_steps_match_numpy_or_raise(n, n_grad, dtype, kind, data):
    p0 = np.sin(np.arange(n) + 1.0).astype(dtype)
    g = data.draw(strided(1, n_grad, data.draw(DTYPES)))[0]
    state = np.zeros(n, dtype)
    p = p0.copy()
    try:
        if kind in ("sgd", "momentum"):
            kernels.sgd_step(p, g, state if kind == "momentum" else None, 0.1, 0.9 if kind == "momentum" else 0.0)
        elif kind == "adam":
            kernels.adam_step(p, g, state, np.zeros(n, dtype), 1)
        elif kind == "rmsprop":
            kernels.rmsprop_step(p, g, state)
        else:
            kernels.adagrad_step(p, g, state)
    except (ValueError, TypeError):
        np.testing.assert_array_equal(p, p0)  # a refused step changes nothing
        return
    assert n == n_grad
    g64, p64 = np.asarray(g, np.float64), p0.astype(np.float64)
    want = {"sgd": lambda: ref.sgd(p64, g64, None, 0.1)[0],
            "momentum": lambda: ref.sgd(p64, g64, np.zeros(n), 0.1, 0.9)[0],
            "adam": lambda: ref.adam(p64, g64, np.zeros(n), np.zeros(n), 1)[0],
            "rmsprop": lambda: ref.rmsprop(p64, g64, np.zeros(n))[0],
            "adagrad": lambda: ref.adagrad(p64, g64, np.zeros(n))[0]}[kind]()
    close(p, want, dtype)


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(0, 12), cols=st.integers(0, 12), dtype=DTYPES, data=st.data())
def test_column_sums_and_dropout_match_numpy_or_raise(rows, cols, dtype, data):
    x = data.draw(strided(rows, cols, dtype))
    x64 = np.asarray(x, np.float64)
    got = kernels.column_sums(x)
    close(got, x64.sum(axis=0), got.dtype)
    rate = data.draw(st.floats(-0.5, 1.5))
    try:
        y, mask = kernels.dropout(x, rate, 7)
    except ValueError:
        assert not 0 <= rate < 1
        return
    close(y, x64 * mask / (1 - rate), y.dtype)
