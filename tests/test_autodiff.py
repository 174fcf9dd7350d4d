"""Reverse mode over keras.ops: every primitive's gradient against float64 central differences,
composed functions, the traced forward against the eager (numpy) op, and what tracing refuses."""
import numpy as np
import pytest

from brisknet import ops
from brisknet.autodiff import Program, Trace, TracingError, recording


def run_traced(fn, arrays, training=True):
    """fn traced on float64 placeholders of the arrays' shapes, then run on the arrays."""
    trace = Trace(training)
    with recording(trace):
        ins = [trace.input(np.asarray(a)) for a in arrays]
        out = fn(*ins)
    program = Program(trace, [out])
    (value,), _ = program.forward(list(arrays), training)
    return program, value


def gradcheck(fn, *arrays, wrt=None, eps=1e-6, tol=1e-6):
    """d(sum(w * fn(x)))/dx by reverse mode against central differences, w random."""
    arrays = [np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in arrays]
    program, value = run_traced(fn, arrays)
    w = np.random.default_rng(1).normal(size=np.shape(value))
    grads = program.backward([w], wrt_inputs=True)
    wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if wrt is None else wrt
    for i in wrt:
        g = grads[("input", i)]
        numeric = np.zeros_like(arrays[i])
        for k in np.ndindex(arrays[i].shape):
            for sign in (1, -1):
                moved = [a.copy() for a in arrays]
                moved[i][k] += sign * eps
                (v,), _ = program.forward(moved, True)
                numeric[k] += sign * np.sum(w * v) / (2 * eps)
        assert g is not None, f"no gradient for input {i}"
        np.testing.assert_allclose(g, numeric, rtol=tol, atol=tol, err_msg=f"input {i}")
    return value


rng = np.random.default_rng(0)


def r(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


POSITIVE = dict(lo=0.3, hi=2.0)
UNIT = dict(lo=-0.9, hi=0.9)

UNARY = [
    ("exp", {}), ("expm1", {}), ("log", POSITIVE), ("log1p", POSITIVE), ("log2", POSITIVE), ("log10", POSITIVE),
    ("sqrt", POSITIVE), ("square", {}), ("abs", {}), ("negative", {}), ("reciprocal", POSITIVE), ("sin", {}),
    ("cos", {}), ("tan", UNIT), ("arcsin", UNIT), ("arccos", UNIT), ("arctan", {}), ("sinh", {}), ("cosh", {}),
    ("arcsinh", {}), ("arccosh", dict(lo=1.2, hi=3.0)), ("arctanh", UNIT), ("erf", {}), ("rsqrt", POSITIVE),
    ("relu", {}), ("relu6", dict(lo=-3, hi=8)), ("sigmoid", {}), ("tanh", {}), ("softplus", {}), ("softsign", {}),
    ("silu", {}), ("gelu", {}), ("selu", {}), ("elu", {}), ("leaky_relu", {}), ("hard_sigmoid", dict(lo=-5, hi=5)),
    ("hard_silu", dict(lo=-5, hi=5)), ("log_sigmoid", {}), ("mish", {}), ("hard_tanh", {}), ("celu", {}),
]


@pytest.mark.parametrize("name,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary_gradients(name, domain):
    x = r(3, 4, **domain)
    # keep away from kinks (relu at 0, hard_sigmoid at +-3, ...)
    x = np.where(np.abs(x) < 1e-3, 0.5, x)
    fn = getattr(ops, name)
    value = gradcheck(fn, x, tol=1e-5)
    np.testing.assert_allclose(value, fn(x), rtol=1e-12, atol=1e-12)


def test_gelu_exact_and_parameters():
    x = r(5)
    gradcheck(lambda t: ops.gelu(t, approximate=False), x)
    gradcheck(lambda t: ops.leaky_relu(t, negative_slope=0.1), x)
    gradcheck(lambda t: ops.elu(t, alpha=0.5), x)


BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "logaddexp", "arctan2"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradients_with_broadcasting(name):
    fn = getattr(ops, name)
    a, b = r(3, 1, 4), r(5, 1) + 3.0
    value = gradcheck(fn, a, b)
    np.testing.assert_allclose(value, fn(a, b), rtol=1e-12)


def test_power_both_operands():
    gradcheck(ops.power, r(3, 4, **POSITIVE), r(4))
    gradcheck(lambda x: x ** 2 + 3 ** x, r(3))


def test_python_operators_and_constants():
    def f(x, y):
        return (2.0 - x) * y / 3 + (x @ y.T)[0, 0] - (-x) ** 2 + 1 / (y + 5)
    gradcheck(f, r(2, 3), r(2, 3))


def test_where_clip_and_comparisons():
    gradcheck(lambda x, y: ops.where(x > y, x * 2, y), r(4, 3), r(4, 3))
    gradcheck(lambda x: ops.clip(x, -0.5, 0.7), r(10))
    gradcheck(lambda x: ops.divide_no_nan(x, ops.where(x > 0, x, 0.0)), r(6))


def test_matmul_shapes():
    gradcheck(ops.matmul, r(3, 4), r(4, 2))
    gradcheck(ops.matmul, r(2, 3, 4), r(4, 5))
    gradcheck(ops.matmul, r(2, 3, 4), r(2, 4, 5))
    gradcheck(ops.matmul, r(4), r(4, 3))
    gradcheck(ops.matmul, r(2, 3, 4), r(4))
    gradcheck(ops.dot, r(3, 4), r(4))
    gradcheck(lambda a, b: ops.tensordot(a, b, axes=([1, 2], [0, 1])), r(2, 3, 4), r(3, 4, 2))
    gradcheck(ops.outer, r(3), r(2))


@pytest.mark.parametrize("spec,shapes", [
    ("ij,jk->ik", [(3, 4), (4, 2)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij->i", [(3, 4)]), ("ij,j->", [(3, 4), (4,)]), ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("...ij,jk->...ik", [(2, 3, 4), (4, 2)]), ("ij,kl->ijkl", [(2, 3), (2, 2)]),
])
def test_einsum(spec, shapes):
    arrays = [r(*s) for s in shapes]
    value = gradcheck(lambda *xs: ops.einsum(spec, *xs), *arrays)
    np.testing.assert_allclose(value, np.einsum(spec, *arrays), rtol=1e-12)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "var", "std", "logsumexp"])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (-1, True), ((0, 2), False)])
def test_reductions(name, axis, keepdims):
    x = r(3, 4, 2)
    fn = getattr(ops, name)
    value = gradcheck(lambda t: fn(t, axis=axis, keepdims=keepdims), x)
    np.testing.assert_allclose(value, fn(x, axis=axis, keepdims=keepdims), rtol=1e-10)


def test_max_ties_split_the_gradient_and_prod_with_zero():
    program, _ = run_traced(lambda t: ops.max(t, axis=1), [np.array([[1.0, 3.0, 3.0]])])
    g = program.backward([np.ones(1)], wrt_inputs=True)[("input", 0)]
    np.testing.assert_array_equal(g, [[0, 0.5, 0.5]])
    gradcheck(lambda t: ops.prod(t, axis=1), np.array([[0.0, 2.0, 3.0], [1.0, 2.0, -1.0]]))


def test_norm_normalize_softmax_and_cumsum():
    gradcheck(lambda t: ops.norm(t, axis=-1), r(3, 4))
    gradcheck(ops.norm, r(3, 4))
    gradcheck(lambda t: ops.normalize(t, axis=-1), r(3, 4))
    gradcheck(lambda t: ops.softmax(t, axis=-1), r(3, 4))
    gradcheck(lambda t: ops.softmax(t, axis=0), r(3, 4))
    gradcheck(lambda t: ops.log_softmax(t), r(3, 4))
    gradcheck(lambda t: ops.cumsum(t, axis=1), r(3, 4))
    gradcheck(ops.cumsum, r(3, 4))
    gradcheck(lambda t: ops.sort(t, axis=-1), r(3, 4))


SHAPES = [
    ("reshape", lambda t: ops.reshape(t, (4, -1))),
    ("transpose", lambda t: ops.transpose(t, (2, 0, 1))),
    ("transpose-default", lambda t: ops.transpose(t)),
    ("expand_dims", lambda t: ops.expand_dims(t, 1)),
    ("squeeze", lambda t: ops.squeeze(ops.expand_dims(t, 0), 0)),
    ("moveaxis", lambda t: ops.moveaxis(t, 0, -1)),
    ("swapaxes", lambda t: ops.swapaxes(t, 0, 2)),
    ("broadcast_to", lambda t: ops.broadcast_to(t[:, :1], (3, 5, 2))),
    ("concatenate", lambda t: ops.concatenate([t, t * 2], axis=1)),
    ("stack", lambda t: ops.stack([t, t + 1], axis=-1)),
    ("split", lambda t: ops.split(t, 2, axis=1)[1] * ops.split(t, [1], axis=1)[0]),
    ("tile", lambda t: ops.tile(t, (2, 1, 3))),
    ("repeat", lambda t: ops.repeat(t, 2, axis=1)),
    ("repeat-flat", lambda t: ops.repeat(t, 2)),
    ("pad", lambda t: ops.pad(t, [[1, 0], [0, 2], [1, 1]])),
    ("flip", lambda t: ops.flip(t, axis=1)),
    ("roll", lambda t: ops.roll(t, 1, axis=1)),
    ("getitem", lambda t: t[1:, ::2, 0] + t[0, -1, None, 1]),
    ("getitem-array", lambda t: t[np.array([0, 2, 0])]),
    ("take", lambda t: ops.take(t, np.array([[0, 1], [1, 1]]), axis=1)),
    ("take-flat", lambda t: ops.take(t, np.array([0, 5, 5]))),
    ("take_along_axis", lambda t: ops.take_along_axis(t, np.array([[[0, 1]], [[1, 1]], [[2, 0]]]), axis=1)),
    ("slice", lambda t: ops.slice(t, (0, 1, 0), (2, 2, 2))),
    ("tril", lambda t: ops.tril(t[0], -1) + ops.triu(t[1], 1)),
    ("ravel", ops.ravel),
]


@pytest.mark.parametrize("name,fn", SHAPES, ids=[s[0] for s in SHAPES])
def test_shape_ops(name, fn):
    x = r(3, 4, 2)
    value = gradcheck(fn, x)
    np.testing.assert_allclose(value, fn(x), rtol=1e-12)


def test_cast_passes_the_gradient_between_float_dtypes():
    program, value = run_traced(lambda t: ops.cast(t, "float32") * 3, [r(4)])
    assert value.dtype == np.float32
    g = program.backward([np.ones(4, np.float32)], wrt_inputs=True)[("input", 0)]
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, 3.0)


def test_crossentropies_and_normalizations():
    t = np.eye(4)[[0, 2, 3]]
    gradcheck(lambda o: ops.categorical_crossentropy(t, o, from_logits=True), r(3, 4), wrt=[0])
    gradcheck(lambda o: ops.categorical_crossentropy(t, ops.softmax(o)), r(3, 4), wrt=[0])
    gradcheck(lambda o: ops.sparse_categorical_crossentropy(np.array([0, 2, 3]), o, from_logits=True), r(3, 4),
              wrt=[0])
    gradcheck(lambda o: ops.binary_crossentropy(t, o, from_logits=True), r(3, 4), wrt=[0])
    gradcheck(lambda o: ops.binary_crossentropy(t, ops.sigmoid(o)), r(3, 4), wrt=[0])
    gradcheck(lambda x, g: ops.layer_normalization(x, g, g * 0.5), r(3, 4), r(4))
    gradcheck(lambda x, g: ops.rms_normalization(x, g), r(3, 4), r(4))
    gradcheck(lambda x: ops.batch_normalization(x, ops.mean(x, 0), ops.var(x, 0), axis=1), r(5, 3))
    gradcheck(lambda x: ops.glu(x), r(3, 4))


def test_integer_results_carry_no_gradient():
    def f(x):
        k = ops.argmax(x, axis=1)
        oh = ops.one_hot(k, 4)
        return ops.sum(x * oh, axis=1) + ops.cast(ops.greater(x, 0)[:, 0], "float64")
    gradcheck(f, r(3, 4))


def test_stop_gradient_and_cond():
    program, _ = run_traced(lambda t: ops.stop_gradient(t) * t, [r(3)])
    x = program.values[program.inputs[0].id]
    g = program.backward([np.ones(3)], wrt_inputs=True)[("input", 0)]
    np.testing.assert_allclose(g, x)
    gradcheck(lambda t: ops.cond(ops.sum(t) > 0, lambda: t * 2, lambda: t * 3), r(3))


def test_float32_math_stays_float32():
    program, value = run_traced(lambda t: ops.exp(t * 2.0 + np.float64(1.5)) / 3 + ops.cast(ops.argmax(t), "int32"),
                                [np.ones((2, 2), np.float32)])
    assert value.dtype == np.float32


def test_control_flow_on_a_tensor_is_refused_with_the_way_out():
    trace = Trace(True)
    with recording(trace):
        t = trace.input(np.zeros(3))
        with pytest.raises(TracingError, match=r"ops\.cond.*ops\.where|test_autodiff\.py line"):
            if ops.sum(t) > 0:
                pass
        with pytest.raises(TracingError, match="numpy"):
            np.asarray(t)
        with pytest.raises(TracingError, match="data-dependent"):
            ops.where(t > 0)


def test_ops_without_a_rule_say_so():
    trace = Trace(True)
    with recording(trace):
        t = trace.input(np.zeros((3, 3)))
        with pytest.raises(NotImplementedError, match="keras.ops.svd has no gradient rule"):
            ops.svd(t)


@pytest.mark.parametrize("causal, masked", [(False, False), (True, False), (False, True), (True, True)])
def test_dot_product_attention_is_fused_and_exact(causal, masked):
    from test_attention import reference
    q, k, v = r(2, 4, 3, 3), r(2, 4, 3, 3), r(2, 4, 3, 2)
    mask = rng.random((2, 1, 4, 4)) > 0.3 if masked else None
    want = reference(q, k, v, None if mask is None else mask[:, 0], causal, 0.7)
    eager = ops.dot_product_attention(q, k, v, mask=mask, scale=0.7, is_causal=causal)
    np.testing.assert_allclose(eager, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ops.nn.dot_product_attention(q, k, v, mask=mask, scale=0.7, is_causal=causal), want)
    value = gradcheck(lambda a, b, c: ops.dot_product_attention(a, b, c, mask=mask, scale=0.7, is_causal=causal),
                      q, k, v)
    np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)
    with pytest.raises(NotImplementedError, match="differs between heads"):
        ops.dot_product_attention(q, k, v, mask=np.ones((2, 3, 4, 4), bool))
