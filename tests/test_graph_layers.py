"""The functional API's layers (merge, normalization, reshaping, Embedding, pooling, noise): each
against numpy, every gradient against central differences in float64, and the graph's own
gradient (fan-out, shared layers) through whole models."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers

from test_gradcheck import assert_grad_close, numeric_grad


def _bind64(layer, shapes, rng):
    """Builds `layer` for samples of `shapes` with random float64 weights of its own."""
    layer.build_sample(shapes)
    weights = [rng.standard_normal(s) * 0.5 + (1.0 if name in ("gamma", "moving_variance") else 0.0)
               for name, s, _ in layer.weight_specs()]
    for w, (name, _, _) in zip(weights, layer.weight_specs()):
        if name == "moving_variance":
            np.abs(w, out=w)
    layer.bind(weights, [np.zeros_like(w) for w in weights])
    return weights


def _check_layer(layer, xs, rng, training=True, inputs_need_grad=True, before_forward=lambda: None):
    """d(sum(r * layer(xs)))/d(each input, each trainable weight) against central differences."""
    several = isinstance(xs, list)
    arg = xs if several else xs
    weights = _bind64(layer, [x.shape[1:] for x in xs] if several else xs.shape[1:], rng)

    def run():
        before_forward()
        return layer.forward(arg, training).copy()

    r = rng.standard_normal(run().shape)
    before_forward()
    layer.forward(arg, training)
    dx = layer.backward(r, need_dx=True)
    analytic_w = [g.copy() for g in layer._grads]
    for w, g, trains in zip(weights, analytic_w, layer.trainable_mask()):
        if trains:
            assert_grad_close(g, numeric_grad(lambda _: run() * r, w))
    if inputs_need_grad:
        for x, d in zip(xs if several else [xs], dx if several else [dx]):
            assert_grad_close(d, numeric_grad(lambda _: run() * r, x))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("cls", [layers.Add, layers.Subtract, layers.Multiply, layers.Average, layers.Maximum,
                                 layers.Minimum])
def test_elementwise_merge_layers(rng, cls):
    n = 2 if cls is layers.Subtract else 3
    xs = [rng.standard_normal((4, 5)) for _ in range(n)]
    expected = {layers.Add: sum(xs), layers.Subtract: xs[0] - xs[1] if n == 2 else None,
                layers.Multiply: np.prod(xs, axis=0), layers.Average: np.mean(xs, axis=0),
                layers.Maximum: np.max(xs, axis=0), layers.Minimum: np.min(xs, axis=0)}[cls]
    layer = cls()
    np.testing.assert_allclose(layer(xs), expected.astype(np.float32), rtol=1e-6)
    _check_layer(cls(), xs, rng)


@pytest.mark.parametrize("cls", [layers.Add, layers.Subtract, layers.Multiply, layers.Average, layers.Maximum,
                                 layers.Minimum])
@pytest.mark.parametrize("shapes", [[(2, 3, 3, 4), (2, 1, 1, 4)], [(2, 1, 4), (2, 3, 1)], [(2, 3, 4), (2, 4)]])
def test_elementwise_merge_layers_broadcast_as_keras(rng, cls, shapes):
    """Keras 3: a sample of lower rank gains axes of size 1 after the batch axis, then numpy's
    broadcasting (a squeeze-and-excitation block's scale)."""
    xs = [rng.standard_normal(s) for s in shapes]
    aligned = [x.reshape(x.shape[:1] + (1,) * (max(map(len, shapes)) - x.ndim) + x.shape[1:]) for x in xs]
    expected = {layers.Add: np.add, layers.Subtract: np.subtract, layers.Multiply: np.multiply,
                layers.Average: lambda a, b: (a + b) / 2, layers.Maximum: np.maximum,
                layers.Minimum: np.minimum}[cls](*aligned)
    np.testing.assert_allclose(cls()(xs), expected.astype(np.float32), rtol=1e-6, atol=1e-6)
    symbolic = cls()([keras.Input(s[1:]) for s in shapes])
    assert tuple(symbolic.shape) == (None,) + expected.shape[1:]
    _check_layer(cls(), xs, rng)


def test_a_model_with_a_broadcast_multiply_trains_as_on_the_python_path(rng):
    inputs = keras.Input((4, 4, 3))
    scale = layers.Dense(3, activation="sigmoid")(layers.GlobalAveragePooling2D(keepdims=True)(inputs))
    out = layers.Dense(2)(layers.Flatten()(layers.Multiply()([inputs, scale])))
    x, y = rng.standard_normal((16, 4, 4, 3)).astype("float32"), rng.standard_normal((16, 2)).astype("float32")
    losses = []
    for eager in (False, True):
        keras.utils.set_random_seed(3)
        model = keras.Model(inputs, out)
        model = keras.models.clone_model(model)
        model.compile("sgd", "mse", run_eagerly=eager)
        losses.append(model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


@pytest.mark.parametrize("axis, shapes", [(-1, [(4, 3), (4, 5)]), (1, [(4, 2, 3), (4, 1, 3)]),
                                          (2, [(4, 2, 3), (4, 2, 1), (4, 2, 2)])])
def test_concatenate(rng, axis, shapes):
    xs = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(layers.Concatenate(axis=axis)(xs), np.concatenate(xs, axis=axis).astype(np.float32))
    _check_layer(layers.Concatenate(axis=axis), xs, rng)


@pytest.mark.parametrize("axes, shapes, normalize", [(1, [(3, 4), (3, 4)], False), (1, [(3, 4), (3, 4)], True),
                                                     ((2, 1), [(3, 2, 4), (3, 4, 5)], False),
                                                     ((1, 1), [(3, 4, 2), (3, 4, 3)], True)])
def test_dot(rng, axes, shapes, normalize):
    a, b = (rng.standard_normal(s) for s in shapes)
    layer = layers.Dot(axes=axes, normalize=normalize)
    out = layer([a, b])
    i, j = (axes, axes) if isinstance(axes, int) else axes
    if normalize:
        a = a / np.linalg.norm(a, axis=i, keepdims=True)
        b = b / np.linalg.norm(b, axis=j, keepdims=True)
    want = np.stack([np.tensordot(a[s], b[s], axes=(i - 1, j - 1)) for s in range(a.shape[0])])
    np.testing.assert_allclose(out, want.reshape(out.shape).astype(np.float32), rtol=1e-5, atol=1e-6)
    _check_layer(layers.Dot(axes=axes, normalize=normalize), [a, b], rng)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False)])
def test_batch_normalization(rng, training, center, scale):
    x = rng.standard_normal((6, 3, 4)) * 3 + 1
    layer = layers.BatchNormalization(center=center, scale=scale, momentum=0.9)
    weights = _bind64(layer, x.shape[1:], rng)
    gamma = weights[0] if scale else 1.0
    beta = weights[int(scale)] if center else 0.0
    mm, mv = weights[-2].copy(), weights[-1].copy()
    y = layer.forward(x, training)
    mean, var = (x.mean(axis=(0, 1)), x.var(axis=(0, 1))) if training else (mm, mv)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3) * gamma + beta, rtol=1e-12, atol=1e-12)
    if training:  # Keras' moving averages
        np.testing.assert_allclose(weights[-2], mm * 0.9 + x.mean(axis=(0, 1)) * 0.1)
        np.testing.assert_allclose(weights[-1], mv * 0.9 + x.var(axis=(0, 1)) * 0.1)
    else:
        np.testing.assert_array_equal(weights[-2], mm)
    _check_layer(layers.BatchNormalization(center=center, scale=scale), x, rng, training)
    assert layer.trainable_mask() == [True] * (center + scale) + [False, False]


@pytest.mark.parametrize("shape", [(40, 30, 30, 7), (700, 300)])
def test_batch_normalization_over_many_rows_against_numpy_and_across_thread_counts(rng, shape):
    """Images (36,000 positions of 7 channels: the sums split by rows) and a wide dense batch (the
    sums split by features): float64 against numpy's two-pass statistics and the backward formula,
    float32 the same bits for any thread count."""
    x = rng.standard_normal(shape) * 2 + 0.5
    dy = rng.standard_normal(shape)
    gamma, beta = np.abs(rng.standard_normal(shape[-1])) + 0.5, rng.standard_normal(shape[-1])
    results = {}
    for threads in (1, 2, 8):
        keras.set_num_threads(threads)
        for dtype in (np.float64, np.float32):
            layer = layers.BatchNormalization(momentum=0.9)
            layer.build_sample(shape[1:])
            weights = [a.astype(dtype) for a in (gamma, beta, np.zeros(shape[-1]), np.ones(shape[-1]))]
            layer.bind(weights, [np.zeros_like(w) for w in weights])
            y = layer.forward(x.astype(dtype), True).copy()
            dx = layer.backward(dy.astype(dtype), True).copy()
            results[threads, dtype] = [y, dx] + [g.copy() for g in layer._grads] + [w.copy() for w in weights[2:]]
            if threads == 1 and dtype == np.float64:
                axes = tuple(range(len(shape) - 1))
                mean, var = x.mean(axis=axes), x.var(axis=axes)
                xhat = (x - mean) / np.sqrt(var + 1e-3)
                np.testing.assert_allclose(y, xhat * gamma + beta, rtol=1e-10, atol=1e-10)
                n = x.size // shape[-1]
                want_dx = gamma / np.sqrt(var + 1e-3) / n * (n * dy - dy.sum(axis=axes) - xhat * (dy * xhat).sum(axis=axes))
                np.testing.assert_allclose(dx, want_dx, rtol=1e-9, atol=1e-10)
                np.testing.assert_allclose(layer._grads[0], (dy * xhat).sum(axis=axes), rtol=1e-10)
                np.testing.assert_allclose(weights[2], 0.1 * mean, rtol=1e-10, atol=1e-12)
    keras.set_num_threads(2)
    for threads in (2, 8):
        for got, want in zip(results[threads, np.float32], results[1, np.float32]):
            np.testing.assert_array_equal(got, want)


def test_a_frozen_batch_normalization_uses_its_moving_statistics_in_training(rng):
    x = rng.standard_normal((6, 4))
    layer = layers.BatchNormalization(trainable=False)
    weights = _bind64(layer, x.shape[1:], rng)
    before = [w.copy() for w in weights]
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, (x - before[2]) / np.sqrt(before[3] + 1e-3) * before[0] + before[1])
    for a, b in zip(weights, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("center, scale", [(True, True), (False, False)])
def test_layer_normalization(rng, center, scale):
    x = rng.standard_normal((5, 2, 6)) * 2
    layer = layers.LayerNormalization(center=center, scale=scale)
    weights = _bind64(layer, x.shape[1:], rng)
    gamma = weights[0] if scale else 1.0
    beta = weights[-1] if center else 0.0
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3) * gamma + beta
    np.testing.assert_allclose(layer.forward(x, True), want, rtol=1e-12, atol=1e-12)
    _check_layer(layers.LayerNormalization(center=center, scale=scale), x, rng)


@pytest.mark.parametrize("shape, activation", [((4, 3, 5), "tanh"), ((3, 2, 2, 4), None)])
def test_dense_on_the_last_axis_of_any_rank(rng, shape, activation):
    x = rng.standard_normal(shape)
    layer = layers.Dense(3, activation=activation)
    kernel, bias = _bind64(layer, x.shape[1:], rng)
    assert layer.output_shape == shape[1:-1] + (3,)
    want = x @ kernel + bias
    np.testing.assert_allclose(layer.forward(x, True), np.tanh(want) if activation else want, rtol=1e-12, atol=1e-12)
    _check_layer(layers.Dense(3, activation=activation), x, rng)


def test_embedding(rng):
    idx = rng.integers(0, 7, (5, 3)).astype(np.float64)
    idx[0, :2] = 4  # a row hit twice in one sample
    layer = layers.Embedding(7, 4)
    weights = _bind64(layer, idx.shape[1:], rng)
    np.testing.assert_array_equal(layer.forward(idx, True), weights[0][idx.astype(int)])
    _check_layer(layers.Embedding(7, 4), idx, rng, inputs_need_grad=False)
    for bad in (7.0, -1.0, 2.5):
        idx[1, 1] = bad
        with pytest.raises(ValueError, match="whole numbers in \\[0, 7\\)"):
            layer.forward(idx, True)


@pytest.mark.parametrize("cls, shape", [(layers.GlobalAveragePooling1D, (4, 5, 3)),
                                        (layers.GlobalAveragePooling2D, (2, 3, 4, 2)),
                                        (layers.GlobalMaxPooling1D, (4, 5, 3)),
                                        (layers.GlobalMaxPooling2D, (2, 3, 4, 2))])
def test_global_pooling(rng, cls, shape):
    x = rng.standard_normal(shape)
    axes = tuple(range(1, len(shape) - 1))
    want = x.mean(axis=axes) if "Average" in cls.__name__ else x.max(axis=axes)
    np.testing.assert_allclose(cls()(x), want.astype(np.float32), rtol=1e-6)
    assert cls(keepdims=True)(x).shape == (shape[0],) + (1,) * len(axes) + (shape[-1],)
    _check_layer(cls(), x, rng)


@pytest.mark.parametrize("layer, shape", [(layers.Reshape((3, -1)), (2, 12)), (layers.Permute((2, 1)), (2, 3, 4)),
                                          (layers.RepeatVector(3), (2, 4)), (layers.Identity(), (2, 5))])
def test_reshaping_layers(rng, layer, shape):
    x = rng.standard_normal(shape)
    want = {"Reshape": lambda: x.reshape(2, 3, 4), "Permute": lambda: x.transpose(0, 2, 1),
            "RepeatVector": lambda: np.repeat(x[:, None], 3, axis=1), "Identity": lambda: x}[type(layer).__name__]()
    np.testing.assert_array_equal(layer(x), want.astype(np.float32))
    _check_layer(type(layer).from_config(layer.get_config()), x, rng)


@pytest.mark.parametrize("cls, arg", [(layers.GaussianNoise, 0.3), (layers.GaussianDropout, 0.4)])
def test_noise_layers(rng, cls, arg):
    x = rng.standard_normal((400, 50))
    layer = cls(arg, seed=3)
    np.testing.assert_array_equal(layer(x, training=False), x.astype(np.float32))  # inference: identity
    y = layer(x, training=True)
    noise = y - x.astype(np.float32) if cls is layers.GaussianNoise else y / x.astype(np.float32)
    expected_std = arg if cls is layers.GaussianNoise else np.sqrt(arg / (1 - arg))
    assert abs(noise.std() - expected_std) < 0.05 * expected_std
    assert not np.array_equal(layer(x, training=True), y)  # a new draw each call
    again = cls(arg, seed=3)
    np.testing.assert_array_equal(again(x, training=True), y)  # the same seed, the same noise
    fresh = cls(arg, seed=3)
    calls = {}
    _check_layer(fresh, x[:3, :4].copy(), rng,
                 before_forward=lambda: setattr(fresh, "_calls", calls.setdefault("n", fresh._calls)))


# ----------------------------------------------------------------------------------- graphs
def _graph_model():
    """Fan-out (a residual connection), a shared layer, merge and normalization layers."""
    inputs = keras.Input(shape=(5,))
    h = layers.Dense(6, activation="tanh")(inputs)
    r = layers.BatchNormalization()(layers.Dense(6)(h))
    h = layers.Add()([h, r])
    shared = layers.Dense(6, activation="sigmoid")
    a = shared(h)
    b = shared(layers.LayerNormalization()(a))
    c = layers.Concatenate()([a, b, h])
    out = layers.Dense(3)(layers.Multiply()([c, c]))
    return keras.Model(inputs, out)


def _float64_weights(model):
    """The model's layers on float64 copies of its parameter and gradient buffers (same layout)."""
    params = model._params.astype(np.float64)
    grads = np.zeros_like(params)
    offset = 0
    for layer in model._layers:
        ws, gs = [], []
        for w in layer._weights:
            ws.append(params[offset:offset + w.size].reshape(w.shape))
            gs.append(grads[offset:offset + w.size].reshape(w.shape))
            offset += w.size
        layer.bind(ws, gs)
    model._graph.bind_nodes()
    return params, grads


def test_the_graphs_gradient_against_central_differences_in_float64():
    rng = np.random.default_rng(1)
    keras.utils.set_random_seed(0)
    model = _graph_model()
    params, grads = _float64_weights(model)
    x = rng.standard_normal((4, 5))
    r = rng.standard_normal((4, 3))
    bn = next(l for l in model._layers if isinstance(l, layers.BatchNormalization))

    def loss(_):
        saved = [w.copy() for w in bn._weights[-2:]]  # (training moves the moving statistics)
        out = model._graph.forward([x], True)[0] * r
        for w, s in zip(bn._weights[-2:], saved):
            w[...] = s
        return out

    loss(None)
    model._graph.backward([r])
    analytic = grads.copy()
    numeric = numeric_grad(loss, params)
    mask = np.concatenate([np.full(w.size, t) for l in model._layers for w, t in zip(l._weights, l.trainable_mask())])
    assert_grad_close(analytic[mask], numeric[mask])
    assert len(model._graph.shared_layers) == 1  # (the check covered a shared layer's summed gradient)


def test_a_graph_model_trains_and_a_shared_layer_has_one_set_of_weights():
    keras.utils.set_random_seed(0)
    model = _graph_model()
    names = [w.path for w in model.weights]
    assert len(names) == len(set(names))
    assert sum(1 for l in model.layers if isinstance(l, layers.Dense)) == 4  # the shared one once
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 5)).astype(np.float32)
    y = (x[:, :3] * 2 + x[:, 3:4]).astype(np.float32)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), np.mean((model.predict(x, verbose=0) - y) ** 2),
                               rtol=1e-5)


def test_graph_building_errors_name_the_layers():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(4,))
    with pytest.raises(ValueError, match="'add_x'.*broadcast together"):
        layers.Add(name="add_x")([a, b])
    with pytest.raises(ValueError, match="'cat'.*except along axis"):
        layers.Concatenate(name="cat")([keras.Input(shape=(2, 3)), keras.Input(shape=(3, 3))])
    with pytest.raises(ValueError, match="'sub'.*exactly 2"):
        layers.Subtract(name="sub")([a, a, a])
    with pytest.raises(ValueError, match="'d1' .*takes one tensor"):
        layers.Dense(2, name="d1")([a, a])
    shared = layers.Dense(2, name="shared")
    shared(a)
    with pytest.raises(ValueError, match="'shared'.*cannot be called again on \\(4,\\)"):
        shared(b)
    with pytest.raises(ValueError, match="'dot'.*differs"):
        layers.Dot(axes=1, name="dot")([a, b])
    with pytest.raises(ValueError, match="Reshape 'rs'"):
        layers.Reshape((5,), name="rs")(a)
    with pytest.raises(ValueError, match="not among the model's inputs"):
        keras.Model(a, layers.Dense(2)(b))
    with pytest.raises(ValueError, match="layers between its inputs and each output"):
        keras.Model(a, a)
    with pytest.raises(NotImplementedError, match="axis=-1"):
        layers.BatchNormalization(axis=1)


def test_a_graph_model_under_a_data_parallel_distribution_is_refused_clearly():
    keras.utils.set_random_seed(0)
    model = _graph_model()
    model.compile(optimizer="sgd", loss="mse")

    class Two:
        def part(self, n):
            return 0, n
    with pytest.raises(NotImplementedError, match="graph of layers"):
        model._train_step_part(np.zeros((4, 5), np.float32), np.zeros((4, 3), np.float32), None, Two())


def test_a_graph_of_two_inputs_and_two_outputs_against_central_differences_in_float64():
    rng = np.random.default_rng(4)
    keras.utils.set_random_seed(1)
    a, b = keras.Input((3,)), keras.Input((4,))
    h = layers.Dense(5, activation="tanh")(layers.Concatenate()([a, b]))
    out1 = layers.Dense(2)(layers.Multiply()([h, layers.Dense(5)(b)]))
    out2 = layers.Dense(3, activation="sigmoid")(h)  # h fans out to both outputs
    model = keras.Model([a, b], [out1, out2])
    params, grads = _float64_weights(model)
    xs = [rng.standard_normal((4, 3)), rng.standard_normal((4, 4))]
    r = [rng.standard_normal((4, 2)), rng.standard_normal((4, 3))]

    def loss(_):
        o = model._graph.forward(xs, True)
        return np.concatenate([(o[0] * r[0]).ravel(), (o[1] * r[1]).ravel()])

    loss(None)
    model._graph.backward(r)
    assert_grad_close(grads.copy(), numeric_grad(loss, params))


def _every_layer_model():
    """A graph of two inputs and two outputs holding every layer of the functional API, and inputs for it."""
    keras.utils.set_random_seed(2)
    tokens, feats = keras.Input((6,), name="tokens"), keras.Input((8,), name="feats")
    e = layers.Embedding(10, 4)(tokens)                                   # (6, 4)
    seq = layers.LayerNormalization()(layers.Permute((2, 1))(e))          # (4, 6)
    pooled = layers.Concatenate()([layers.GlobalAveragePooling1D()(seq), layers.GlobalMaxPooling1D()(seq)])  # (12,)
    norm = layers.Normalization(mean=np.linspace(0, 1, 8), variance=np.linspace(1, 2, 8))(feats)
    f = layers.Rescaling(0.5, 0.1)(norm)
    d = layers.Dense(12, activation="gelu")(layers.BatchNormalization()(f))
    a, b = layers.Dense(12, activation="tanh"), layers.Dense(12, use_bias=False)
    mixed = [layers.Add()([pooled, d]), layers.Subtract()([pooled, d]), layers.Multiply()([a(d), b(pooled)]),
             layers.Average()([pooled, d, a(pooled)]), layers.Maximum()([pooled, d]), layers.Minimum()([pooled, d])]
    h = layers.Concatenate()(mixed)                                       # (72,)
    grid = layers.Reshape((6, 12))(layers.Dropout(0.3)(layers.GaussianNoise(0.1)(layers.GaussianDropout(0.2)(h))))
    g = layers.Flatten()(layers.GlobalAveragePooling1D(keepdims=True)(grid))
    rep = layers.Flatten()(layers.RepeatVector(2)(layers.Dot(axes=1, normalize=True)([g, layers.Identity()(g)])))
    out1 = layers.Dense(3, activation="softmax")(layers.Concatenate()([g, rep]))
    out2 = layers.Activation("relu")(layers.Dense(2)(g))
    model = keras.Model([tokens, feats], [out1, out2])
    bn = next(l for l in model.layers if isinstance(l, layers.BatchNormalization))
    bn.set_weights([np.full(8, 1.5), np.full(8, 0.2), np.linspace(-1, 1, 8), np.linspace(0.5, 2, 8)])
    rng = np.random.default_rng(0)
    x = [rng.integers(0, 10, (5, 6)).astype(np.float32), rng.standard_normal((5, 8)).astype(np.float32)]
    return model, x


def test_every_layer_exports_to_onnx_with_predict_s_results(tmp_path):
    """onnxruntime gives model.predict's outputs for a graph of every layer."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model, x = _every_layer_model()
    model.export_onnx(tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = session.run(None, {"input_tokens": x[0], "input_feats": x[1]})
    want = model.predict(x, verbose=0)
    assert [o.name for o in session.get_outputs()] == [f"output_{n}" for n in model.output_names]
    for g_, w in zip(got, want):
        np.testing.assert_allclose(g_, w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("suffix", [".brisk", ".keras"])
def test_every_layer_survives_a_file(tmp_path, suffix):
    model, x = _every_layer_model()
    model.compile("adam", loss=["sparse_categorical_crossentropy", "mse"])
    y = [np.arange(5) % 3, np.ones((5, 2), np.float32)]
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / f"m{suffix}")
    again = keras.models.load_model(tmp_path / f"m{suffix}")
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in model.layers]
    assert again.get_config() == model.get_config()
    for a, b in zip(again.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)


def test_the_normalization_kernels_check_their_arrays():
    from brisknet import _core
    x = np.ones((4, 3), np.float32)
    stats = np.zeros(3, np.float32)
    ok = dict(y=np.empty_like(x), mean=stats.copy(), inv=stats.copy(), x=x, gamma=None, beta=None,
              moving_mean=stats.copy(), moving_var=np.ones(3, np.float32), momentum=0.9, epsilon=1e-3, batch_stats=True)
    _core.batch_norm_forward(**ok)
    for bad, error, match in [(dict(x=x.astype(np.float64)), TypeError, "dtype"),
                              (dict(mean=np.zeros(4, np.float32)), ValueError, "mean: expected 3"),
                              (dict(gamma=np.ones(2, np.float32)), ValueError, "gamma: expected 3"),
                              (dict(epsilon=0.0), ValueError, "epsilon"), (dict(momentum=1.5), ValueError, "momentum"),
                              (dict(x=np.ones(3, np.float32)), ValueError, "x")]:
        with pytest.raises(error, match=match):
            _core.batch_norm_forward(**{**ok, **bad})
    buf = np.ones(13, np.float32)
    dy, dx = buf[:12].reshape(4, 3), buf[1:].reshape(4, 3)  # one element apart
    with pytest.raises(ValueError, match="dx overlaps dy"):
        _core.batch_norm_backward(dx, None, None, dy, x, stats, stats, None, True)
    _core.batch_norm_backward(dy, None, None, dy, x, stats, stats, None, True)  # in place is fine
    with pytest.raises(ValueError, match="inv: expected 4"):
        _core.layer_norm_backward(None, None, None, dy, x, np.zeros(4, np.float32), stats, None)
