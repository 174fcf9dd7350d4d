"""Property test: random shapes, dtypes, strides and transposes thrown at matmul and the element
kernels either match numpy or raise a Python exception; never a crash or a wrong number."""
import numpy as np
from hypothesis import given, settings, strategies as st

from brisknet import ops

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
        got = ops.matmul(a, b, ta, tb)
    except (ValueError, TypeError):
        assert k != kb  # the only invalid case here: mismatched inner dimensions
        return
    assert k == kb
    want = A.astype(np.float64) @ B.astype(np.float64)
    tol = 1e-4 if got.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, k * 9))


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(0, 20), cols=st.integers(0, 20), dtype=DTYPES,
       name=st.sampled_from(sorted(ops.ACTIVATIONS)), data=st.data())
def test_activations_on_any_layout(rows, cols, dtype, name, data):
    x = data.draw(strided(rows, cols, dtype))
    y = ops.activation(x, name)
    assert y.shape == x.shape
    again = ops.activation(np.ascontiguousarray(x, dtype=y.dtype), name)
    np.testing.assert_array_equal(y, again)
