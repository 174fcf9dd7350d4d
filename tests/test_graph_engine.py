"""The engine runs graphs (residual connections, Add, Concatenate, BatchNormalization,
LayerNormalization, shared Dense layers): the same weights, history and predictions as the Python reference path, bit
for bit, whatever the thread count; what it cannot run yet trains on the Python path."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers
from brisknet.models import engine as engine_module


def residual(width=16, frozen_bn=False, dropout=0.0, bn_in_chain=False):
    inputs = keras.Input((12,))
    h = layers.Dense(width, activation="relu", kernel_regularizer="l2")(inputs)
    r = layers.BatchNormalization(momentum=0.9, trainable=not frozen_bn)(layers.Dense(width, use_bias=False)(h))
    h = layers.Add()([h, layers.Activation("relu")(r), h])          # h read twice by one layer, and again below
    h = layers.LayerNormalization()(h)
    side = layers.Dense(5, activation="tanh", bias_regularizer="l1")(inputs)  # the input read by two layers
    h = layers.Concatenate()([h, side, layers.Flatten()(layers.Dropout(dropout)(h))])
    if bn_in_chain:
        h = layers.BatchNormalization(center=False)(h)
    return keras.Model(inputs, layers.Dense(4, activation="softmax")(h))


def train(build, eager, threads=2, epochs=2, data=None, **compile_kw):
    """Fits build() on the Python path (eager) or in the engine; data(model) gives (x, y) (random
    rows of 12 features by default). Returns the weights, the history and predictions."""
    keras.set_num_threads(threads)
    keras.utils.set_random_seed(9)
    model = build()
    model.compile(**{"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                     **compile_kw}, run_eagerly=eager)
    rng = np.random.default_rng(0)
    x, y = data(model) if data else (rng.standard_normal((200, 12)).astype(np.float32), rng.integers(0, 4, 200))
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, validation_split=0.2)
    assert (getattr(model, "_training_engine", None) is None) == eager, engine_module.why_not(model)
    return model.get_weights(), history.history, model.predict(x[:9], verbose=0)


def assert_same(a, b):
    assert a[1] == b[1]
    for u, v in zip(a[0], b[0]):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a[2], b[2])


@pytest.mark.parametrize("variant", [{}, {"frozen_bn": True}, {"dropout": 0.3}, {"bn_in_chain": True, "width": 40}])
@pytest.mark.parametrize("compile_kw", [{}, {"optimizer": keras.optimizers.SGD(0.05, momentum=0.9, clipnorm=1.0)}])
def test_a_graph_in_the_engine_is_bit_identical_to_the_reference_path(variant, compile_kw):
    def build():
        return residual(**variant)
    fresh = {k: (type(v).from_config(v.get_config()) if hasattr(v, "get_config") else v) for k, v in compile_kw.items()}
    engine = train(build, False, **fresh)
    fresh = {k: (type(v).from_config(v.get_config()) if hasattr(v, "get_config") else v) for k, v in compile_kw.items()}
    assert_same(engine, train(build, True, **fresh))


def test_a_graph_in_the_engine_is_bit_identical_across_thread_counts():
    def build():
        return residual(width=300)  # wide enough that the kernels split across threads
    one = train(build, False, threads=1, epochs=1)
    for threads in (2, 8):
        assert_same(train(build, False, threads=threads, epochs=1), one)
    keras.set_num_threads(2)


def test_a_sequential_with_batch_normalization_trains_in_the_engine():
    def build():
        return keras.Sequential([keras.Input((12,)), layers.Dense(20, use_bias=False), layers.BatchNormalization(),
                                 layers.Activation("relu"), layers.LayerNormalization(scale=False),
                                 layers.Dense(4, activation="softmax")])
    assert_same(train(build, False), train(build, True))


def test_batch_normalization_s_moving_statistics_follow_keras_rule_in_the_engine():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), layers.BatchNormalization(momentum=0.5, scale=False, center=False),
                              layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32) * 2 + 1
    model.fit(x, np.zeros((8, 1), np.float32), batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert model._training_engine is not None
    mean, var = model.layers[0].get_weights()
    np.testing.assert_allclose(mean, 0.5 * 0 + 0.5 * x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(var, 0.5 * 1 + 0.5 * x.var(0), rtol=1e-5)
    # inference: the moving statistics normalise
    np.testing.assert_allclose(model.layers[0](x), (x - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-6)


def _shared(a):
    shared = layers.Dropout(0.5)  # (each call draws its own masks: not in the engine yet)
    return keras.Model(a, layers.Dense(2)(shared(layers.Dense(3)(shared(a)))))


@pytest.mark.parametrize("make, reason", [
    (lambda a, b: keras.Model([a, b], layers.Dense(2)(layers.Concatenate()([a, b]))), "several inputs"),
    (lambda a, b: _shared(a), "a shared Dropout layer"),
    (lambda a, b: keras.Model(a, layers.Dense(2)(layers.Multiply()([a, a]))), "Multiply"),
])
def test_graphs_the_engine_cannot_run_yet_train_on_the_python_path(make, reason):
    model = make(keras.Input((3,)), keras.Input((3,)))
    model.compile("sgd", "mse")
    assert reason in engine_module.why_not(model)


def test_the_cuda_engine_refuses_a_graph_clearly():
    _cuda = pytest.importorskip("brisknet._cuda")  # (a build without CUDA has no module)
    from brisknet import _core
    spec = _core.LayerSpec()
    spec.kind, spec.inputs, spec.outputs = _core.LayerKind.add, 3, 3
    spec.sources = [-1, -1]
    with pytest.raises(ValueError, match="CUDA engine runs chains"):
        _cuda.Network([spec], _core.LossSpec(_core.LossKind.mean_squared_error), 0)


def test_the_engine_checks_a_graph_s_specs():
    from brisknet import _core
    loss = _core.LossSpec(_core.LossKind.mean_squared_error)

    def spec(kind, n, sources=()):
        s = _core.LayerSpec()
        s.kind, s.inputs, s.outputs, s.sources = kind, n, n, list(sources)
        return s
    with pytest.raises(ValueError, match="not an earlier one"):
        _core.Network([spec(_core.LayerKind.add, 3, [-1, 1]), spec(_core.LayerKind.add, 3)], loss)
    with pytest.raises(ValueError, match="only add and concat"):
        _core.Network([spec(_core.LayerKind.activation, 3, [-1, -1])], loss)
    with pytest.raises(ValueError, match="concat gives 5"):
        _core.Network([spec(_core.LayerKind.concat, 5, [-1, -1])], loss)
    bn = spec(_core.LayerKind.batch_norm, 3)
    with pytest.raises(ValueError, match="moving statistics"):
        _core.Network([bn], loss)


def shared_layers():
    inputs = keras.Input((12,))
    shared = layers.Dense(12, activation="tanh", kernel_regularizer="l2")
    act = layers.Activation("relu")
    h = shared(inputs)
    h = shared(act(layers.Dense(12)(h)))
    h = layers.Add()([shared(h), act(h), h])  # three calls of one Dense layer
    return keras.Model(inputs, layers.Dense(4, activation="softmax")(h))


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_shared_layers_train_in_the_engine_bit_identically(optimizer):
    engine = train(shared_layers, False, optimizer=optimizer)
    assert_same(engine, train(shared_layers, True, optimizer=optimizer))
