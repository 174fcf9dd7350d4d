"""Subclassed models on the engine (models/traced_graph.py): a traced call() of built-in layers,
or of the ops a Dense stack is made of in custom layers, runs as the engine's layer graph, and
trains and predicts as the traced program does on the Python path; anything else stays on the
Python path and why_not says which op."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers, ops
from brisknet.models import engine as engine_module


class Linear(layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, activation

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                 regularizer=keras.regularizers.L2(1e-3))
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal")

    def call(self, x):
        y = self.b + ops.matmul(x, self.w)
        return ops.tanh(y) if self.activation == "tanh" else y


class DenseMLP(keras.Model):
    def __init__(self):
        super().__init__()
        self.d1 = layers.Dense(16, activation="relu")
        self.drop = layers.Dropout(0.3, seed=5)
        self.d2 = layers.Dense(4, activation="softmax")

    def call(self, x, training=None):
        return self.d2(self.drop(self.d1(x), training=training))


class OpsResidual(keras.Model):
    """Custom layers of ops, a residual sum, an activation op, a layer called twice, a softmax op."""

    def __init__(self):
        super().__init__()
        self.stem = layers.Dense(16)
        self.block = Linear(16, "tanh")
        self.head = Linear(4)

    def call(self, x):
        h = ops.relu(self.stem(x))
        h = h + self.block(h)
        h = self.block(h) + h
        return ops.softmax(self.head(h))


def _data(n=96):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 12)).astype(np.float32), rng.integers(0, 4, n)


def _train(make, eager, weights=None):
    keras.utils.set_random_seed(3)
    x, y = _data()
    model = make()
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  run_eagerly=eager)
    model.build((None, 12))
    if weights is not None:
        model.set_weights(weights)
    if not eager:
        assert engine_module.why_not(model) is None
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    return history, model.get_weights(), model.predict(x, verbose=0), model.evaluate(x, y, verbose=0)


@pytest.mark.parametrize("make", [DenseMLP, OpsResidual])
def test_the_engine_trains_a_subclassed_model_as_its_traced_program_does(make):
    engine, reference = _train(make, False), _train(make, True)
    np.testing.assert_allclose(engine[0]["loss"], reference[0]["loss"], rtol=1e-5)
    for a, b in zip(engine[1], reference[1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(engine[2], reference[2], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(engine[3], reference[3], rtol=1e-5)


def test_a_model_of_dense_layers_trains_as_the_sequential_of_them_bit_for_bit():
    def sequential():
        return keras.Sequential([layers.Dense(16, activation="relu"), layers.Dropout(0.3, seed=5),
                                 layers.Dense(4, activation="softmax")])
    keras.utils.set_random_seed(3)
    model = DenseMLP()
    model.build((None, 12))
    start = model.get_weights()
    subclassed, seq = _train(DenseMLP, False, start), _train(sequential, False, start)
    assert subclassed[0] == seq[0]
    for a, b in zip(subclassed[1], seq[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(subclassed[2], seq[2])


class Scaled(keras.Model):
    def __init__(self):
        super().__init__()
        self.d = layers.Dense(4)

    def call(self, x):
        return self.d(x) * 2.0


class TrainingBranch(keras.Model):
    def __init__(self):
        super().__init__()
        self.d, self.noise = layers.Dense(4), layers.GaussianNoise(0.1)

    def call(self, x, training=False):
        if training:
            x = self.noise(x)
        return self.d(x)


class WithLoss(keras.Model):
    def __init__(self):
        super().__init__()
        self.d = layers.Dense(4)

    def call(self, x):
        h = self.d(x)
        self.add_loss(0.01 * ops.sum(h * h))
        return h


class ReadsKernel(keras.Model):
    def __init__(self):
        super().__init__()
        self.d = layers.Dense(4)

    def call(self, x):
        return self.d(x) + ops.matmul(x, self.d.kernel)


@pytest.mark.parametrize("make, reason", [
    (Scaled, "keras.ops.multiply"),
    (TrainingBranch, "differ in training and inference"),
    (WithLoss, "add_loss"),
    (ReadsKernel, "keras.ops.matmul"),
])
def test_what_the_engine_cannot_run_trains_on_the_python_path_and_says_why(make, reason):
    x, y = _data()
    model = make()
    model.compile("adam", "mse")
    model.fit(x, np.zeros((x.shape[0], 4), np.float32), epochs=1, verbose=0)
    assert reason in engine_module.why_not(model)


def test_an_engine_run_model_checks_the_sample_shape():
    model = DenseMLP()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(*_data(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="samples of shape"):
        model.predict(np.zeros((2, 13), np.float32), verbose=0)


def test_data_parallel_training_refuses_what_each_process_would_do_alone():
    """(Under mpirun: tests/test_distributed.py.) add_loss, random draws and state updates in a
    call() on the Python path would be each process's own: refused with the reason."""
    class Noisy(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(4)
            self.seed = keras.random.SeedGenerator(1)

        def call(self, x):
            return self.d(x + keras.random.normal(ops.shape(x), seed=self.seed))

    for make, what in ((WithLoss, "add_loss"), (Noisy, "a random draw")):
        model = make()
        model.build((None, 12))
        with pytest.raises(NotImplementedError, match=what):
            model._check_data_parallel()
    model = OpsResidual()
    model.build((None, 12))
    with pytest.raises(NotImplementedError, match="graph of layers"):  # the engine's, not a chain
        model._check_data_parallel()
    model = DenseMLP()
    model.build((None, 12))
    model._check_data_parallel()
