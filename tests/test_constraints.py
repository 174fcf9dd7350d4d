"""keras.constraints: the projections (their agreement with Keras 3 after training is in
keras_programs.py's constraints_program), by name and config, applied after each update on the
Python path (why_not says so), and a model that has none still trains in the engine."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import constraints, layers
from brisknet.models import engine


def test_projections():
    w = np.array([[3.0, 0.1], [-4.0, 0.2]], np.float32)  # column norms 5 and ~0.224
    np.testing.assert_allclose(np.linalg.norm(constraints.MaxNorm(2)(w), axis=0), [2.0, 0.2236068], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(constraints.UnitNorm()(w), axis=0), [1.0, 1.0], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(constraints.MinMaxNorm(1.0, 2.0)(w), axis=0), [2.0, 1.0], rtol=1e-5)
    np.testing.assert_array_equal(constraints.NonNeg()(w), np.array([[3.0, 0.1], [0.0, 0.2]], np.float32))
    rows = constraints.MaxNorm(1.0, axis=1)(w)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), [1.0, 1.0], rtol=1e-5)
    assert isinstance(constraints.get("max_norm"), constraints.MaxNorm)
    assert constraints.get({"class_name": "MinMaxNorm", "config": {"max_value": 3.0}}).max_value == 3.0
    with pytest.raises(ValueError, match="unknown constraint"):
        constraints.get("clip")


def test_constraints_hold_after_every_step_on_the_python_path():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.s = self.add_weight(shape=(input_shape[-1],), initializer="ones", constraint="non_neg")

        def call(self, x):
            return x * self.s

    x = np.random.default_rng(0).standard_normal((64, 5)).astype(np.float32)
    model = keras.Sequential([keras.Input((5,)), Scale(), layers.Dense(4, kernel_constraint=constraints.MaxNorm(0.3)),
                              layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.05), "mse")
    model.fit(x, -x[:, :1], epochs=2, batch_size=8, verbose=0)
    assert model.layers[0].get_weights()[0].min() >= 0
    model.layers[0].set_weights([np.array([-1.0, 2.0, -0.5, 1.0, 1.0], np.float32)])  # (set: not projected)
    model.compile(keras.optimizers.SGD(1e-9), "mse")
    model.train_on_batch(x[:8], -x[:8, :1])  # one update, then the projection
    np.testing.assert_allclose(model.layers[0].get_weights()[0], [0, 2, 0, 1, 1], atol=1e-6)
    assert np.linalg.norm(model.layers[1].get_weights()[0], axis=0).max() <= 0.3 + 1e-6
    dense_only = keras.Sequential([keras.Input((5,)), layers.Dense(1, bias_constraint="non_neg")])
    dense_only.compile("sgd", "mse")
    assert "'dense" in engine.why_not(dense_only) and "weight constraints" in engine.why_not(dense_only)
    free = keras.Sequential([keras.Input((5,)), layers.Dense(1)])
    free.compile("sgd", "mse")
    assert engine.why_not(free) is None
