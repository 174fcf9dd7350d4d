"""Keras 3's mixed precision (keras.mixed_precision, dtype="mixed_bfloat16"): the policy API, bf16
training in the engine equal to the Python reference path bit for bit, within tolerance of float32
and on every bf16 path, and the policy kept through .keras and .brisk files."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import kernels, layers, testing


@pytest.fixture(autouse=True)
def float32_after():
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_policy_api():
    p = keras.mixed_precision.DTypePolicy("mixed_bfloat16")
    assert (p.name, p.compute_dtype, p.variable_dtype) == ("mixed_bfloat16", "bfloat16", "float32")
    assert keras.mixed_precision.Policy is keras.DTypePolicy
    assert keras.mixed_precision.global_policy().name == "float32"
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    assert keras.config.dtype_policy() == p
    dense = layers.Dense(3)
    assert dense.dtype_policy == p and dense.dtype == "float32" and dense.compute_dtype == "bfloat16"
    assert layers.Dense(3, dtype="float32").compute_dtype == "float32"  # a layer's own dtype wins
    keras.config.set_dtype_policy(None)
    assert layers.Dense(3).dtype_policy.name == "float32"
    assert layers.Dense(3, dtype=p).dtype_policy == p
    assert layers.Dense(3, dtype={"class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}}).compute_dtype == "bfloat16"
    for bad in ("mixed_float16", "int8", "bfloat16x"):
        with pytest.raises(ValueError, match="not supported"):
            layers.Dense(3, dtype=bad)
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        keras.mixed_precision.set_global_policy("mixed_float16")


def data(rng, n=512, d=40, classes=5):
    centers = rng.standard_normal((classes, d)).astype(np.float32) * 2
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.standard_normal((n, d)).astype(np.float32)
    return x, y


def mlp(dtype=None):
    return keras.Sequential([keras.Input((40,)), layers.Dense(64, activation="relu", dtype=dtype),
                             layers.Dense(32, activation="tanh", dtype=dtype), layers.Dense(5, activation="softmax")])


def fit(x, y, eager, dtype="mixed_bfloat16", epochs=3):
    keras.utils.set_random_seed(7)
    model = mlp(dtype)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=eager)
    h = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return model, h.history


def test_engine_equals_reference_path_in_bf16(rng):
    x, y = data(rng)
    fast, h_fast = fit(x, y, eager=False)
    ref, h_ref = fit(x, y, eager=True)
    assert fast._training_engine is not None and getattr(ref, "_training_engine", None) is None
    assert h_fast == h_ref
    for a, b in zip(fast.get_weights(), ref.get_weights()):
        assert a.dtype == np.float32  # variables stay float32
        np.testing.assert_array_equal(a, b)


def test_bf16_training_tracks_float32(rng):
    x, y = data(rng)
    bf16, h16 = fit(x, y, eager=False, epochs=4)
    f32, h32 = fit(x, y, eager=False, dtype="float32", epochs=4)
    # different bits (the products were rounded), the same training
    assert not np.array_equal(bf16.get_weights()[0], f32.get_weights()[0])
    assert abs(h16["loss"][-1] - h32["loss"][-1]) < 0.05 * h32["loss"][0]
    assert abs(h16["accuracy"][-1] - h32["accuracy"][-1]) <= 0.02
    assert bf16.predict(x, verbose=0).dtype == np.float32


@pytest.mark.parametrize("path", kernels.bf16_paths())
def test_every_path_trains(rng, path):
    before = kernels.bf16_path()
    kernels.set_bf16_path(path)
    try:
        x, y = data(rng)
        _, h = fit(x, y, eager=False, epochs=2)
    finally:
        kernels.set_bf16_path(before)
    assert h["loss"][-1] < h["loss"][0] and h["accuracy"][-1] > 0.9


@pytest.mark.parametrize("suffix", [".keras", ".brisk"])
def test_policy_survives_saving(rng, tmp_path, suffix):
    pytest.importorskip("h5py") if suffix == ".keras" else None
    x, y = data(rng)
    model, _ = fit(x, y, eager=False, epochs=1)
    model.save(tmp_path / f"m{suffix}")
    loaded = keras.models.load_model(tmp_path / f"m{suffix}")
    assert [l.dtype_policy.name for l in loaded.layers] == ["mixed_bfloat16", "mixed_bfloat16", "float32"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_conv2d_in_bf16_rounds_the_patches_and_the_kernel(rng):
    """A mixed_bfloat16 Conv2D (a 3 x 3 window of 16 channels, which float32 runs by Winograd) equals
    the float64 convolution of its rounded image and kernel, to a bf16 GEMM's bound."""
    x = rng.standard_normal((3, 9, 9, 16)).astype(np.float32)
    conv = layers.Conv2D(16, 3, padding="same", dtype="mixed_bfloat16")
    got = np.asarray(conv(x))
    ref32 = layers.Conv2D(16, 3, padding="same")
    ref32(x)
    ref32.set_weights(conv.get_weights())
    kernel, bias = conv.get_weights()
    rx = testing.round_to_bfloat16(x).astype(np.float64)
    rw = testing.round_to_bfloat16(kernel).astype(np.float64)
    want = np.zeros((3, 9, 9, 16))
    padded = np.pad(rx, ((0, 0), (1, 1), (1, 1), (0, 0)))
    magnitude = np.zeros_like(want)
    for i in range(3):
        for j in range(3):
            window = padded[:, i:i + 9, j:j + 9, :]
            want += window @ rw[i, j]
            magnitude += np.abs(window) @ np.abs(rw[i, j])
    want += bias
    testing.assert_close(got, want, 150 * 2.0 ** -24 * magnitude + 1e-30)
    assert not np.array_equal(got, np.asarray(ref32(x)))  # (not the float32 Winograd result)


def convnet(dtype):
    return keras.Sequential([keras.Input((10, 10, 2)), layers.Conv2D(8, 3, activation="relu", dtype=dtype),
                             layers.MaxPooling2D(2), layers.Conv2D(16, 3, padding="same", activation="relu", dtype=dtype),
                             layers.Flatten(), layers.Dense(3, activation="softmax", dtype=dtype)])


def test_convnet_engine_equals_reference_path_in_bf16(rng):
    x = rng.standard_normal((96, 10, 10, 2)).astype(np.float32)
    y = rng.integers(0, 3, 96)
    runs = []
    for eager in (False, True):
        keras.utils.set_random_seed(3)
        model = convnet("mixed_bfloat16")
        model.compile("adam", "sparse_categorical_crossentropy", run_eagerly=eager)
        h = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        assert (getattr(model, "_training_engine", None) is None) == eager
        runs.append((model.get_weights(), h.history))
    assert runs[0][1] == runs[1][1]
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    keras.utils.set_random_seed(3)
    f32 = convnet("float32")
    f32.compile("adam", "sparse_categorical_crossentropy")
    h32 = f32.fit(x, y, batch_size=32, epochs=2, verbose=0).history
    assert h32["loss"] != runs[0][1]["loss"] and abs(h32["loss"][-1] - runs[0][1]["loss"][-1]) < 0.05


@pytest.mark.parametrize("make", [lambda d: layers.LSTM(12, return_sequences=True, dtype=d),
                                  lambda d: layers.GRU(12, return_sequences=True, dtype=d),
                                  lambda d: layers.Bidirectional(layers.SimpleRNN(12, return_sequences=True, dtype=d))])
def test_recurrent_layers_take_the_policy(rng, make):
    """A recurrent layer's GEMMs in bf16: near its float32 output (the rounding of the inputs and
    kernels, ~2^-9 relative), not equal to it; and it trains."""
    x = rng.standard_normal((4, 7, 5)).astype(np.float32)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    bf = make("mixed_bfloat16")
    keras.mixed_precision.set_global_policy("float32")
    f32 = make("float32")
    y_bf = np.asarray(bf(x))
    f32(x)
    f32.set_weights(bf.get_weights())
    y32 = np.asarray(f32(x))
    assert not np.array_equal(y_bf, y32)
    np.testing.assert_allclose(y_bf, y32, atol=0.03)
    model = keras.Sequential([keras.Input((7, 5)), bf, layers.GlobalAveragePooling1D(), layers.Dense(1)])
    model.compile("adam", "mse")
    h = model.fit(x, x[:, :, :1].mean(axis=1), epochs=5, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]


class Linear(layers.Layer):
    """The subclassing guide's layer: its product is ops.matmul."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.w) + self.b


def test_custom_layer_products_follow_its_policy(rng):
    """Inside a mixed_bfloat16 layer's call(), ops.matmul is a bf16 product, eager and traced (as
    Keras autocasts the layer's inputs and variables); a float32 layer's stays float32."""
    x = rng.standard_normal((40, 30)).astype(np.float32)
    bf = Linear(20, dtype="mixed_bfloat16")
    eager = np.asarray(bf(x))
    w = bf.get_weights()[0]
    np.testing.assert_array_equal(eager, kernels.matmul(x, w, bf16=True))
    f32 = Linear(20)
    f32(x)
    f32.set_weights(bf.get_weights())
    np.testing.assert_array_equal(np.asarray(f32(x)), kernels.matmul(x, w))
    # traced, in a model: forward and gradients in bf16
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((30,)), Linear(20, dtype="mixed_bfloat16"), layers.Dense(1)])
    model.compile("sgd", "mse")
    np.testing.assert_array_equal(model.predict(x, verbose=0),
                                  model.layers[1](kernels.matmul(x, model.get_weights()[0], bf16=True)))
    h = model.fit(x, x[:, :1], epochs=3, verbose=0).history
    assert h["loss"][-1] < h["loss"][0]


def test_multi_head_attention_projections_take_the_policy(rng):
    q = rng.standard_normal((2, 6, 16)).astype(np.float32)
    bf = layers.MultiHeadAttention(2, 8, dtype="mixed_bfloat16")
    y_bf = np.asarray(bf(q, q))
    assert all(sub.dtype_policy.name == "mixed_bfloat16" for sub in (bf._query_dense, bf._output_dense))
    f32 = layers.MultiHeadAttention(2, 8)
    f32(q, q)
    f32.set_weights(bf.get_weights())
    y32 = np.asarray(f32(q, q))
    assert not np.array_equal(y_bf, y32)
    np.testing.assert_allclose(y_bf, y32, atol=0.05)


@pytest.mark.parametrize("path", kernels.bf16_paths())
@pytest.mark.parametrize("causal", [False, True])
def test_attention_in_bf16(rng, path, causal):
    """The fused attention's products in bf16: near float32 attention on the rounded q, k, v (the
    probabilities and the output gradient are rounded too), gradients likewise; every path."""
    from brisknet.autodiff.rules import PRIMITIVES
    before = kernels.bf16_path()
    kernels.set_bf16_path(path)
    try:
        q, k, v = (rng.standard_normal((2, 37, 3, 16)).astype(np.float32) for _ in range(3))
        prim = PRIMITIVES["dot_product_attention"]
        out, saved = prim.forward(q, k, v, scale=0.25, causal=causal, bf16=True)
        r = [testing.round_to_bfloat16(t) for t in (q, k, v)]
        want, _ = prim.forward(*r, scale=0.25, causal=causal)
        assert not np.array_equal(out, want)  # (P and the products were rounded)
        np.testing.assert_allclose(out, want, atol=0.02)
        g = rng.standard_normal(out.shape).astype(np.float32)
        a = {"scale": 0.25, "causal": causal, "saved": saved, "bf16": True}
        grads = prim.vjp(g, out, [q, k, v], a)
        _, saved32 = prim.forward(q, k, v, scale=0.25, causal=causal)
        grads32 = prim.vjp(g, prim.forward(q, k, v, scale=0.25, causal=causal)[0], [q, k, v],
                           {"scale": 0.25, "causal": causal, "saved": saved32})
        for got, ref in zip(grads[:3], grads32[:3]):
            np.testing.assert_allclose(got, ref, atol=0.05 * np.abs(ref).max())
    finally:
        kernels.set_bf16_path(before)


def test_model_subclass_call_follows_its_policy(rng):
    """A Model subclass made under mixed_bfloat16 (or given dtype=) computes the ops of its own
    call() in bf16, as Keras autocasts them; float32 by default."""
    class TwoProducts(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(4, dtype="float32")

        def call(self, x):
            return keras.ops.matmul(self.dense(x), keras.ops.ones((4, 3)) * 0.3)

    x = rng.standard_normal((8, 5)).astype(np.float32)
    outs = {}
    for dtype in ("float32", "mixed_bfloat16"):
        keras.utils.set_random_seed(0)
        model = TwoProducts(dtype=dtype)
        assert model.dtype_policy.name == dtype
        model.compile("sgd", "mse")
        outs[dtype] = model.predict(x, verbose=0)
        hidden = model.dense(x)
        want = kernels.matmul(np.asarray(hidden), np.full((4, 3), 0.3, np.float32), bf16=dtype != "float32")
        np.testing.assert_array_equal(outs[dtype], want)
    assert not np.array_equal(outs["float32"], outs["mixed_bfloat16"])
