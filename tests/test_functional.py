"""keras.Model(inputs, outputs), the functional API, as far as it goes: one chain of layers from
keras.Input, trained by the same engine as a Sequential (the rest arrives with issue 14's graph
engine: merge layers, several inputs and outputs, shared layers)."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers


def test_the_functional_reference_model_is_the_sequential_one_bit_for_bit():
    rng = np.random.default_rng(0)
    x, y = rng.random((256, 784), dtype=np.float32), rng.integers(0, 10, 256)
    results = []
    for functional in (True, False):
        keras.utils.set_random_seed(3)
        if functional:
            inputs = keras.Input(shape=(784,))
            h = layers.Dense(1000, activation="relu")(inputs)
            h = layers.Dropout(0.1)(h)
            h = layers.Dense(1000, activation="relu")(h)
            model = keras.Model(inputs=inputs, outputs=layers.Dense(10, activation="softmax")(h))
        else:
            model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(1000, activation="relu"),
                                      layers.Dropout(0.1), layers.Dense(1000, activation="relu"),
                                      layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        results.append((model.get_weights(), history.history, model.predict(x[:7], verbose=0)))
    (w_f, h_f, p_f), (w_s, h_s, p_s) = results
    for a, b in zip(w_f, w_s):
        np.testing.assert_array_equal(a, b)
    assert h_f == h_s
    np.testing.assert_array_equal(p_f, p_s)


def test_symbolic_tensors_carry_keras_shapes_and_the_model_its_name():
    inputs = keras.Input(shape=(4, 3), name="pixels")
    flat = layers.Flatten()(inputs)
    out = layers.Dense(5)(flat)
    assert flat.shape == (None, 12) and out.shape == (None, 5)
    model = keras.Model([inputs], [out], name="tiny")
    assert model.name == "tiny" and model.outputs == [out] and model.inputs == [inputs]
    assert keras.Model(inputs, out).name.startswith("functional")
    assert model.predict(np.ones((2, 4, 3), np.float32), verbose=0).shape == (2, 5)


def test_what_the_chain_cannot_be_yet_is_a_clear_error():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    dense = layers.Dense(2)
    with pytest.raises(ValueError, match="not computed from these inputs"):
        keras.Model(a, dense(b))
    with pytest.raises(NotImplementedError, match="one input and one output"):
        keras.Model([a, b], dense(a))
    with pytest.raises(NotImplementedError, match="several inputs"):
        layers.Dense(2)([a, b])
    shared = layers.Dense(3)
    with pytest.raises(NotImplementedError, match="called twice"):
        keras.Model(a, shared(shared(a)))
    with pytest.raises(NotImplementedError, match="subclassed models"):
        keras.Model()
    with pytest.raises(TypeError, match="must come from keras.Input"):
        keras.Model(a, np.zeros(3))
