"""Keras' object model on brisknet: layers built and called on their own, weights as variables,
Sequentials inside Sequentials, clone_model, Metric subclasses with variables, initializers,
to_categorical; each with its bad-input cases."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers


def _data(n=64, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, classes, n)


def test_a_layer_builds_and_runs_on_its_own():
    dense = layers.Dense(4, activation="relu")
    x = np.random.default_rng(0).standard_normal((2, 3))
    y = dense(x)
    assert y.shape == (2, 4) and dense.built and dense.kernel.shape == (3, 4)
    np.testing.assert_allclose(y, np.maximum(x.astype(np.float32) @ dense.kernel.numpy() + dense.bias.numpy(), 0), rtol=1e-6)
    with pytest.raises(ValueError, match="built for samples of shape"):
        dense(np.ones((2, 5)))
    with pytest.raises(TypeError, match="numeric"):
        dense(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="batch"):
        dense(np.ones(3))
    other = layers.Dense(3)
    other.build((None, 4))
    assert other.kernel.shape == (4, 3) and other.compute_output_shape((None, 4)) == (None, 3)
    with pytest.raises(ValueError, match="batch dimension first"):
        layers.Dense(3).build((4,))
    np.testing.assert_array_equal(layers.Activation("relu")(np.array([[-1.0, 2.0]])), [[0.0, 2.0]])


def test_a_standalone_layer_keeps_its_weights_when_a_model_takes_it():
    dense = layers.Dense(3)
    dense(np.ones((1, 4)))
    kernel = dense.kernel.numpy()
    model = keras.Sequential([keras.Input((4,)), dense])
    np.testing.assert_array_equal(model.get_weights()[0], kernel)
    np.testing.assert_array_equal(dense(np.ones((1, 4))), model.predict(np.ones((1, 4)), verbose=0))


def test_weights_are_variables():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="d")])
    kernel, bias = model.weights
    assert (kernel.name, kernel.path, kernel.shape, kernel.dtype) == ("kernel", "d/kernel", (4, 3), "float32")
    assert isinstance(kernel.numpy(), np.ndarray) and kernel.trainable
    kernel.assign(np.ones((4, 3)))
    bias.assign_add(np.full(3, 0.5))
    np.testing.assert_array_equal(model.predict(np.ones((1, 4)), verbose=0), [[4.5, 4.5, 4.5]])
    np.testing.assert_array_equal(np.asarray(kernel) + 1, np.full((4, 3), 2.0))
    with pytest.raises(ValueError, match="shape"):
        kernel.assign(np.ones((3, 4)))
    with pytest.raises(TypeError, match="numbers"):
        kernel.assign(np.full((4, 3), "x"))
    model.add(layers.Dense(2))  # a rebuild moves the buffer; the variable follows
    np.testing.assert_array_equal(kernel.numpy(), np.ones((4, 3)))
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_a_nested_sequential_trains_as_the_flat_one_and_shares_its_weights():
    x, y = _data()

    def flat():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"), layers.Dense(5),
                                 layers.Dense(3, activation="softmax")])

    def nested():
        keras.utils.set_random_seed(0)
        inner = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(5)], name="inner")
        return keras.Sequential([keras.Input((6,)), inner, layers.Dense(3, activation="softmax")]), inner

    a = flat()
    b, inner = nested()
    for m in (a, b):
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in a.get_weights()]),
                                  np.concatenate([w.ravel() for w in b.get_weights()]))
    keras.utils.set_random_seed(1)  # the same shuffles for both fits
    ha = a.fit(x, y, epochs=2, batch_size=16, verbose=0).history
    keras.utils.set_random_seed(1)
    hb = b.fit(x, y, epochs=2, batch_size=16, verbose=0).history
    assert [l.name for l in b.layers][0] == "inner" and len(b.weights) == 6
    assert hb["loss"] == ha["loss"]  # the same leaf layers run: bit-identical
    # the inner model is a view of the outer one's weights
    np.testing.assert_array_equal(inner.get_weights()[0], b.get_weights()[0])
    h = inner.predict(x, verbose=0)
    np.testing.assert_allclose(b.predict(x, verbose=0), keras.kernels.softmax(h @ b.get_weights()[4] + b.get_weights()[5]),
                               rtol=1e-5, atol=1e-6)
    inner.trainable = False  # freezing the inner model freezes its layers
    before = inner.get_weights()
    b.fit(x, y, epochs=1, verbose=0)
    for w0, w1 in zip(before, inner.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    with pytest.raises(ValueError, match="itself"):
        b.add(b)
    with pytest.raises(ValueError, match="already in this model"):
        b.add(inner.layers[0])


def test_nested_models_survive_brisk_files(tmp_path):
    inner = keras.Sequential([layers.Dense(4, activation="tanh"), layers.Dropout(0.2)], name="inner")
    model = keras.Sequential([keras.Input((3,)), inner, layers.Dense(2)])
    model.save(tmp_path / "m.brisk")
    again = keras.models.load_model(tmp_path / "m.brisk")
    assert [type(l).__name__ for l in again.layers] == ["Sequential", "Dense"]
    x = np.ones((5, 3), np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_clone_model_has_the_architecture_and_new_weights():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu", name="a"),
                              keras.Sequential([layers.Dense(2)], name="b"), layers.Softmax()])
    clone = keras.models.clone_model(model)
    names = [l.name for l in model.layers]  # the Softmax's automatic name depends on earlier tests
    assert [l.name for l in clone.layers] == names and names[:2] == ["a", "b"] and clone is not model
    assert all(c is not o for c, o in zip(clone.layers, model.layers))
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    renamed = keras.models.clone_model(model, clone_function=lambda l: l.__class__.from_config(
        {**l.get_config(), "name": "new_" + l.name}))
    assert [l.name for l in renamed.layers] == ["new_a", "b", "new_" + names[2]]
    with pytest.raises(TypeError, match="brisknet model"):
        keras.models.clone_model(layers.Dense(2))
    with pytest.raises(TypeError, match="Layer"):
        keras.models.clone_model(model, clone_function=lambda l: 3)


def test_keras_layer_classes():
    x = np.array([[-8.0, -1.0, 0.5, 7.0]], np.float32)
    np.testing.assert_allclose(layers.ReLU()(x), [[0, 0, 0.5, 7]])
    np.testing.assert_allclose(layers.ReLU(max_value=6)(x), [[0, 0, 0.5, 6]])
    np.testing.assert_allclose(layers.ReLU(negative_slope=0.1)(x), [[-0.8, -0.1, 0.5, 7]], rtol=1e-6)
    np.testing.assert_allclose(layers.LeakyReLU()(x), [[-2.4, -0.3, 0.5, 7]], rtol=1e-6)  # Keras' 0.3
    np.testing.assert_allclose(layers.ELU(0.5)(x), [[0.5 * np.expm1(-8), 0.5 * np.expm1(-1), 0.5, 7]], rtol=1e-6)
    e = np.exp(x - x.max())
    np.testing.assert_allclose(layers.Softmax()(x), e / e.sum(), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="axis"):
        layers.Softmax(axis=0)
    np.testing.assert_allclose(layers.ReLU(threshold=1.0)(x), [[0, 0, 0, 7]])
    with pytest.raises(ValueError, match="max_value"):
        layers.ReLU(max_value=-1)
    # softmax as a layer is fused with the cross-entropy as the activation argument is
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.Softmax()])
    model.compile("sgd", "categorical_crossentropy")
    assert model._fused


def test_metric_subclass_with_variables():
    class Total(keras.metrics.Metric):
        def __init__(self, name="total", **kwargs):
            super().__init__(name=name, **kwargs)
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")
            self.count = self.add_weight(name="count", initializer="ones")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.total.assign_add(np.sum(y_pred))
            self.count.assign_add(1)

        def result(self):
            return self.total.value / self.count.value

    m = Total()
    assert [v.name for v in m.variables] == ["total", "count"]
    assert m([0], np.array([2.0, 4.0])) == 3.0  # __call__ = update_state + result
    m.reset_state()
    assert float(m.total) == 0.0 and float(m.count) == 1.0
    x, y = _data()
    model = keras.Sequential([keras.Input((6,)), layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=[Total()])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0).history
    assert all(isinstance(v, float) for v in history["total"])
    np.testing.assert_allclose(history["total"], 16 * 4 / 5, rtol=1e-5)  # each batch's softmax sums to 16


def test_confusion_metrics_with_threshold_lists_and_sample_weights():
    m = keras.metrics.TruePositives(thresholds=[0.3, 0.7])
    m.update_state([1, 1, 0, 1], [0.5, 0.9, 0.8, 0.1], sample_weight=[1, 2, 1, 1])
    np.testing.assert_array_equal(m.result(), [3.0, 2.0])
    with pytest.raises(ValueError, match="thresholds"):
        keras.metrics.Precision(thresholds=1.5)
    auc = keras.metrics.AUC(from_logits=True)
    auc.update_state([0, 1], [-1000.0, 1000.0])  # no overflow in the sigmoid
    assert auc.result() == 1.0


def test_initializers():
    I = keras.initializers
    q = I.Orthogonal(gain=2.0, seed=1)((6, 4))
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)
    wide = I.Orthogonal(seed=1)((3, 5))
    np.testing.assert_allclose(wide @ wide.T, np.eye(3), atol=1e-5)
    t = I.TruncatedNormal(mean=1.0, stddev=0.1, seed=0)((20000,))
    assert np.abs(t - 1.0).max() <= 0.2 and abs(t.mean() - 1.0) < 0.01
    np.testing.assert_array_equal(I.Constant(3.0)((2,)), [3.0, 3.0])
    np.testing.assert_array_equal(I.Identity(2.0)((2, 2)), [[2.0, 0.0], [0.0, 2.0]])
    v = I.VarianceScaling(scale=2.0, mode="fan_out", distribution="uniform", seed=0)((100, 50))
    assert np.abs(v).max() <= np.sqrt(3 * 2.0 / 50)
    assert I.get("truncated_normal").__class__ is I.TruncatedNormal and I.glorot_uniform is I.GlorotUniform
    layer = layers.Dense(4, kernel_initializer=I.Orthogonal(seed=0))
    layer.build((None, 4))
    k = layer.kernel.numpy()
    np.testing.assert_allclose(k.T @ k, np.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="2 dimensions"):
        I.Orthogonal()((3,))


def test_to_categorical_and_normalize():
    np.testing.assert_array_equal(keras.utils.to_categorical([0, 2, 1]), np.eye(3)[[0, 2, 1]])
    assert keras.utils.to_categorical(np.array([[1], [0]]), 4).shape == (2, 4)
    assert keras.utils.to_categorical(np.zeros((2, 3), int), 2).shape == (2, 3, 2)
    with pytest.raises(ValueError, match="in \\[0, 3\\)"):
        keras.utils.to_categorical([0, 3], 3)
    with pytest.raises(ValueError, match="in \\[0"):
        keras.utils.to_categorical([-1, 0])
    with pytest.raises(ValueError, match="integers"):
        keras.utils.to_categorical([0.5])
    with pytest.raises(TypeError):
        keras.utils.to_categorical(["a"])
    n = keras.utils.normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(n, [[0.6, 0.8], [0.0, 0.0]])


def test_keras_ops_namespace_on_numpy():
    ops = keras.ops
    assert ops.ones((2,)).dtype == np.float32 and ops.convert_to_tensor([1.0]).dtype == np.float32
    assert ops.convert_to_tensor([1]).dtype == np.int32 and ops.exp(np.array([1, 2])).dtype == np.float32
    np.testing.assert_allclose(ops.softmax(np.array([[1.0, 2.0], [3.0, 0.0]]), axis=0).sum(axis=0), [1, 1])
    np.testing.assert_array_equal(ops.one_hot(np.array([1, 5]), 3), [[0, 1, 0], [0, 0, 0]])
    a = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32)
    np.testing.assert_allclose(ops.matmul(a, a.T), a @ a.T, rtol=1e-5, atol=1e-5)
    assert np.isnan(ops.relu(np.array([np.nan]))[0])
    with pytest.raises(TypeError):
        ops.convert_to_tensor(["a"])
    with pytest.raises(TypeError, match="integer labels"):
        ops.one_hot(np.array([0.5]), 2)
    with pytest.raises(ValueError, match="labels must be in"):
        ops.sparse_categorical_crossentropy(np.array([3]), np.ones((1, 3)))
    assert keras.kernels.matmul is not ops.matmul  # the raw kernels live in brisknet.kernels


def test_normalization_and_rescaling():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((50, 3)) * [1, 10, 100] + [0, 5, -50]).astype(np.float32)
    norm = layers.Normalization()
    norm.adapt(x)
    np.testing.assert_allclose(norm.mean, x.astype(np.float64).mean(axis=0, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(norm(x).std(axis=0), 1, rtol=1e-4)
    assert [w.name for w in norm.weights] == ["mean", "variance", "count"] and norm.weights[2].shape == ()
    assert norm.trainable_weights == [] and len(norm.non_trainable_weights) == 3
    # backward: dy / std (what the trainer chains), against central differences
    norm.forward(x, True)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(norm.backward(dy, True), dy / np.sqrt(x.astype(np.float64).var(axis=0)), rtol=1e-4)
    given = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 0.0])
    np.testing.assert_allclose(given(np.array([[3.0, 2.5]])), [[1.0, 0.5 / 1e-7]], rtol=1e-5)  # std floored at 1e-7
    with pytest.raises(ValueError, match="mean and variance"):
        layers.Normalization(mean=[1.0])
    with pytest.raises(ValueError, match="variance >= 0"):
        layers.Normalization(mean=[1.0], variance=[-1.0])
    with pytest.raises(ValueError, match="NaN"):
        layers.Normalization().adapt(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="shape"):
        norm.adapt(np.ones((4, 5)))
    with pytest.raises(NotImplementedError):
        layers.Normalization(axis=0)
    np.testing.assert_allclose(layers.Rescaling(1 / 255)(np.array([[0.0, 255.0]])), [[0.0, 1.0]])
    np.testing.assert_allclose(layers.Rescaling([2.0, 3.0], offset=1.0)(np.ones((1, 2))), [[3.0, 4.0]])
    with pytest.raises(ValueError, match="finite"):
        layers.Rescaling(np.nan)
    # in a model: the statistics stay put while the Dense layers train, also with weight decay
    model = keras.Sequential([keras.Input((3,)), norm, layers.Rescaling(0.5), layers.Dense(1)])
    model.compile(keras.optimizers.AdamW(0.1, weight_decay=0.5), "mse")
    stats = [w.numpy() for w in norm.weights]
    model.fit(x, x[:, :1], epochs=2, verbose=0)
    for before, w in zip(stats, norm.weights):
        np.testing.assert_array_equal(before, w.numpy())
