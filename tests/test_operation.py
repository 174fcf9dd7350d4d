"""keras.ops and Python's operators on the functional API's symbolic tensors (`x + inputs`,
`ops.mean(x, axis=1)`, `x[:, -1]`): nodes of the model's graph, as in Keras (layers/operation.py).
Checked against numpy and against the same model written with Lambda layers."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers, ops


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((12, 5, 4)).astype(np.float32), rng.integers(0, 3, 12)


def test_operators_and_ops_compute_what_numpy_computes():
    keras.utils.set_random_seed(1)
    inputs = keras.Input(shape=(5, 4))
    x = layers.Dense(4, name="dense")(inputs)
    y = 2.0 - (x + inputs) * 0.5
    pooled = ops.mean(y, axis=1)
    joined = ops.concatenate([pooled, -pooled[:, :2], abs(x[:, -1]) ** 2], axis=-1)
    model = keras.Model(inputs, [joined, x / 4.0 @ np.eye(4, dtype=np.float32)])
    assert model.output_shape == [(None, 10), (None, 5, 4)]
    a = _data()[0]
    out, scaled = model.predict(a, verbose=0)
    k, b = model.get_layer("dense").get_weights()
    h = a @ k + b
    p = (2.0 - (h + a) * 0.5).mean(axis=1)
    np.testing.assert_allclose(out, np.concatenate([p, -p[:, :2], h[:, -1] ** 2], -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scaled, h / 4.0, rtol=1e-5, atol=1e-6)


def _residual_model(with_ops):
    keras.utils.set_random_seed(2)
    inputs = keras.Input(shape=(5, 4))
    x = layers.Dense(4, activation="tanh", name="dense")(inputs)
    if with_ops:
        x = ops.mean(x * inputs + x, axis=1)
    else:
        x = layers.Lambda(lambda t: t[0] * t[1] + t[0])([x, inputs])
        x = layers.Lambda(lambda t: ops.mean(t, axis=1))(x)
    model = keras.Model(inputs, layers.Dense(3, name="head")(x))
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_a_model_with_ops_trains_as_the_same_model_of_lambda_layers():
    a, labels = _data()
    models = [_residual_model(True), _residual_model(False)]
    for m in models:
        m.fit(a, labels, batch_size=4, epochs=2, shuffle=False, verbose=0)
    before = _residual_model(True).get_weights()
    for w_ops, w_lambda, w0 in zip(models[0].get_weights(), models[1].get_weights(), before):
        assert not np.array_equal(w_ops, w0)
        np.testing.assert_allclose(w_ops, w_lambda, rtol=1e-5, atol=1e-6)


def test_two_tensors_of_one_shape_added_or_multiplied_make_merge_layers():
    inputs = keras.Input(shape=(6,))
    x = layers.Dense(6)(inputs)
    assert type((x * inputs).layer).__name__ == "Multiply" and type((x - inputs).layer).__name__ == "Subtract"
    model = keras.Model(inputs, layers.Dense(2)(x + inputs))
    assert type(model.layers[2]).__name__ == "Add"
    model.compile("adam", "mse")
    assert keras.models.engine.why_not(model) is None  # (the engine runs Add)


def test_symbolic_tensors_answer_shape_questions_and_refuse_iteration_and_saving(tmp_path):
    inputs = keras.Input(shape=(None, 3))
    assert ops.shape(inputs) == (None, None, 3) and ops.ndim(inputs) == 3
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(inputs)
    model = keras.Model(inputs, ops.sum(inputs, axis=1))
    np.testing.assert_allclose(model.predict(np.ones((2, 7, 3), np.float32), verbose=0), np.full((2, 3), 7.0))
    with pytest.raises(NotImplementedError, match=r"keras.ops.sum .*cannot be saved"):
        model.save(str(tmp_path / "m.keras"))
