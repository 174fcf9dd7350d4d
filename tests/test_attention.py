"""The fused attention kernel and the Embedding gather/scatter kernels: against numpy, the
gradients against central differences in float64, the same bits on any number of threads, and
clear errors for bad arguments."""
import numpy as np
import pytest

import brisknet
from brisknet import _core

from test_gradcheck import assert_grad_close, numeric_grad

CASES = [  # batch, queries, keys, heads, d, dv, causal, mask
    (2, 5, 7, 3, 4, 6, False, False),
    (2, 70, 70, 2, 8, 8, True, False),     # several blocks of queries and keys; causal skips blocks
    (3, 40, 100, 2, 5, 3, False, True),
    (2, 33, 33, 1, 4, 4, True, True),      # a row that may attend to nothing: the mean of the values
    (2, 150, 150, 2, 8, 8, True, True),    # causal tiles skipped in several blocks, with a mask
    (1, 700, 700, 1, 4, 4, True, False),   # more keys than the micro-kernel's kc: several k blocks
    (1, 40, 700, 2, 4, 5, False, True),
]


def reference(q, k, v, mask, causal, scale):
    """Keras' MultiHeadAttention core: masked scores get -1e9 before the softmax."""
    tq, tk = q.shape[1], k.shape[1]
    s = np.einsum("bqhd,bkhd->bhqk", q * scale, k)
    allow = np.ones((q.shape[0], tq, tk), bool) if mask is None else mask.astype(bool)
    if causal:
        allow = allow & np.tril(np.ones((tq, tk), bool))
    s = np.where(allow[:, None], s, -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bhqk,bkhd->bqhd", p, v)


def _inputs(rng, case, dtype):
    b, tq, tk, h, d, dv, causal, masked = case
    q, k = rng.standard_normal((b, tq, h, d)), rng.standard_normal((b, tk, h, d))
    v = rng.standard_normal((b, tk, h, dv))
    mask = None
    if masked:
        mask = rng.random((b, tq, tk)) > 0.3
        mask[0, 1] = False
    return [a.astype(dtype) for a in (q, k, v)], mask, causal


def _forward(q, k, v, mask, causal):
    o = np.empty(q.shape[:3] + (v.shape[3],), q.dtype)
    lse = np.empty((q.shape[0], q.shape[2], q.shape[1]), q.dtype)
    _core.attention_forward(o, lse, q, k, v, mask, 1 / np.sqrt(q.shape[3]), causal)
    return o, lse


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_attention_against_numpy(case, dtype, tol):
    (q, k, v), mask, causal = _inputs(np.random.default_rng(0), case, dtype)
    o, _ = _forward(q, k, v, mask, causal)
    np.testing.assert_allclose(o, reference(q, k, v, mask, causal, 1 / np.sqrt(q.shape[3])), atol=tol, rtol=tol)


@pytest.mark.parametrize("case", [(1, 3, 4, 2, 3, 2, False, False), (2, 4, 4, 1, 3, 3, True, True),
                                  (1, 5, 6, 2, 2, 3, False, True)])
def test_attention_gradients_in_float64(case):
    rng = np.random.default_rng(1)
    (q, k, v), mask, causal = _inputs(rng, case, np.float64)
    if mask is not None:
        mask[0, 1] = False  # keep one row that attends to nothing
    r = rng.standard_normal(q.shape[:3] + (v.shape[3],))
    o, lse = _forward(q, k, v, mask, causal)
    grads = [np.empty_like(a) for a in (q, k, v)]
    _core.attention_backward(*grads, r, q, k, v, o, lse, mask, 1 / np.sqrt(q.shape[3]), causal)
    for x, g in zip((q, k, v), grads):
        assert_grad_close(g, numeric_grad(lambda _: _forward(q, k, v, mask, causal)[0] * r, x))


def reference_gradients(q, k, v, mask, causal, scale, dout):
    """The reference's gradients in numpy: masked scores are constants (-1e9), so they pass none."""
    tq, tk = q.shape[1], k.shape[1]
    allow = np.ones((q.shape[0], tq, tk), bool) if mask is None else mask.astype(bool)
    if causal:
        allow = allow & np.tril(np.ones((tq, tk), bool))
    s = np.where(allow[:, None], np.einsum("bqhd,bkhd->bhqk", q * scale, k), -1e9)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    dv = np.einsum("bhqk,bqhd->bkhd", p, dout)
    dp = np.einsum("bqhd,bkhd->bhqk", dout, v)
    ds = np.where(allow[:, None], p * (dp - (dp * p).sum(-1, keepdims=True)), 0) * scale
    return np.einsum("bhqk,bkhd->bqhd", ds, k), np.einsum("bhqk,bqhd->bkhd", ds, q), dv


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-11), (np.float32, 5e-5)])
def test_attention_gradients_against_numpy(case, dtype, tol):
    rng = np.random.default_rng(4)
    (q, k, v), mask, causal = _inputs(rng, case, dtype)
    dout = rng.standard_normal(q.shape[:3] + (v.shape[3],)).astype(dtype)
    scale = 1 / np.sqrt(q.shape[3])
    o, lse = _forward(q, k, v, mask, causal)
    grads = [np.empty_like(a) for a in (q, k, v)]
    _core.attention_backward(*grads, dout, q, k, v, o, lse, mask, scale, causal)
    expected = reference_gradients(*(a.astype(np.float64) for a in (q, k, v)), mask, causal, scale, dout)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, atol=tol, rtol=tol)


def test_attention_is_bit_identical_across_thread_counts():
    (q, k, v), mask, causal = _inputs(np.random.default_rng(2), (4, 90, 90, 2, 16, 16, True, True), np.float32)
    dout = np.random.default_rng(3).standard_normal(q.shape).astype(np.float32)
    results = []
    before = _core.get_num_threads()
    try:
        for threads in (1, 2, 3):
            _core.set_num_threads(threads)
            o, lse = _forward(q, k, v, mask, causal)
            grads = [np.empty_like(a) for a in (q, k, v)]
            _core.attention_backward(*grads, dout, q, k, v, o, lse, mask, 0.25, causal)
            results.append([o, *grads])
    finally:
        _core.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_attention_arguments_are_checked():
    q = np.zeros((2, 3, 1, 4), np.float32)
    o, lse = np.empty((2, 3, 1, 4), np.float32), np.empty((2, 1, 3), np.float32)
    with pytest.raises(ValueError, match="k: expected shape"):
        _core.attention_forward(o, lse, q, np.zeros((2, 3, 1, 5), np.float32), q, None, 0.5, False)
    with pytest.raises(ValueError, match="mask: expected shape"):
        _core.attention_forward(o, lse, q, q, q, np.ones((2, 3, 4), bool), 0.5, False)
    with pytest.raises(TypeError, match="mask: expected dtype bool"):
        _core.attention_forward(o, lse, q, q, q, np.ones((2, 3, 3), np.float32), 0.5, False)
    with pytest.raises(ValueError, match="causal"):
        _core.attention_forward(o, lse, q, np.zeros((2, 5, 1, 4), np.float32), np.zeros((2, 5, 1, 4), np.float32),
                                None, 0.5, True)
    with pytest.raises(ValueError, match="o overlaps q"):
        _core.attention_forward(q, lse, q, q, q, None, 0.5, False)
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.attention_forward(o, lse, q.astype(np.int32), q, q, None, 0.5, False)


def test_embedding_gather_and_deterministic_scatter_add():
    rng = np.random.default_rng(4)
    table = rng.standard_normal((50, 7)).astype(np.float32)
    idx = rng.integers(0, 50, 3000)
    out = np.empty((3000, 7), np.float32)
    _core.embedding_gather(out, table, idx)
    np.testing.assert_array_equal(out, table[idx])
    dout = rng.standard_normal((3000, 7)).astype(np.float32)
    want = np.zeros((50, 7), np.float64)
    np.add.at(want, idx, dout.astype(np.float64))
    sums = []
    before = _core.get_num_threads()
    try:
        for threads in (1, 2, 3):
            _core.set_num_threads(threads)
            dtable = np.full((50, 7), np.nan, np.float32)
            _core.embedding_scatter_add(dtable, dout, idx)
            sums.append(dtable)
    finally:
        _core.set_num_threads(before)
    np.testing.assert_allclose(sums[0], want, rtol=1e-5, atol=1e-5)
    for other in sums[1:]:
        np.testing.assert_array_equal(sums[0], other)
    with pytest.raises(ValueError, match="50 is out of range"):
        _core.embedding_gather(out[:1], table, np.array([50]))
    with pytest.raises(ValueError, match="-1 is out of range"):
        _core.embedding_scatter_add(dtable, dout[:1], np.array([-1]))


@pytest.mark.parametrize("ext", ["keras", "brisk"])
def test_multi_head_attention_called_on_two_tensors_in_a_functional_model_saves_and_loads(tmp_path, ext):
    keras = brisknet
    inputs = keras.Input((6, 4))
    context = keras.layers.Dense(4)(inputs)
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")(inputs, context,
                                                                                 use_causal_mask=True)
    model = keras.Model(inputs, keras.layers.Dense(1)(attended))
    config = model.get_config()
    node = next(l for l in config["layers"] if l["name"] == "mha")["inbound_nodes"][0]
    assert len(node["args"]) == 2 and node["kwargs"] == {"use_causal_mask": True}
    x = np.random.default_rng(5).standard_normal((3, 6, 4)).astype(np.float32)
    model.compile("sgd", "mse")
    model.fit(x, np.ones((3, 6, 1), np.float32), verbose=0)
    path = str(tmp_path / f"m.{ext}")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # the causal mask came back: the first step's output does not depend on later steps
    moved = x.copy()
    moved[:, 1:] += 1.0
    np.testing.assert_allclose(loaded.predict(moved, verbose=0)[:, 0], loaded.predict(x, verbose=0)[:, 0], atol=1e-6)


def test_a_layer_called_again_with_other_arguments_is_refused():
    keras = brisknet
    a, b = keras.Input((5, 4)), keras.Input((5, 4))
    mha = keras.layers.MultiHeadAttention(num_heads=1, key_dim=2)
    mha(a, b)
    with pytest.raises(ValueError, match="other arguments"):
        mha(a, b, use_causal_mask=True)
