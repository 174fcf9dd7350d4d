"""Hashing and CategoryEncoding beyond the values Keras gave (test_text.py, keras_text_program.py):
bad input named by the layer, CategoryEncoding inside a model that trains, Hashing at the front of
a model of strings, both kept in .keras and .brisk files."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers


def test_category_encoding_errors():
    encode = layers.CategoryEncoding(4, output_mode="count", name="cats")
    with pytest.raises(ValueError, match=r"CategoryEncoding 'cats': indices must be in \[0, 4\)"):
        encode(np.array([[0, 4]]))
    with pytest.raises(ValueError, match="whole numbers"):
        encode(np.array([[0.5, 1]]))
    with pytest.raises(TypeError, match="integer indices"):
        encode(np.array([["a"]]))
    with pytest.raises(ValueError, match="count_weights of shape"):
        encode(np.array([[0, 1]]), count_weights=np.ones(3))
    with pytest.raises(ValueError, match="output_mode='count' only"):
        layers.CategoryEncoding(4)(np.array([[0]]), count_weights=np.ones((1, 1)))
    with pytest.raises(ValueError, match="num_tokens must be an int >= 1"):
        layers.CategoryEncoding()
    with pytest.raises(ValueError, match="output_mode must be one of"):
        layers.CategoryEncoding(3, output_mode="int")
    assert layers.CategoryEncoding(3, output_mode="one_hot")(2).tolist() == [[0, 0, 1]]  # (a scalar, as Keras)


def test_category_encoding_in_a_model_trains_on_indices():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, (256, 3))
    y = (x == 4).any(axis=1).astype(np.int64)  # (any 4 among the three)
    inputs = keras.Input(shape=(3,), dtype="int32")
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(layers.CategoryEncoding(5)(inputs)))
    assert model.output_shape == (None, 2)
    model.compile(keras.optimizers.Adam(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] == 1.0


def test_hashing_errors():
    with pytest.raises(ValueError, match="num_bins must be a positive int"):
        layers.Hashing(0)
    with pytest.raises(ValueError, match="salt must be an int or a tuple of 2 ints"):
        layers.Hashing(3, salt="x")
    with pytest.raises(ValueError, match="output_mode must be one of"):
        layers.Hashing(3, output_mode="tf_idf")
    with pytest.raises(TypeError, match="Hashing 'h': expected strings or numbers"):
        layers.Hashing(3, name="h")(np.array([[None]], dtype=object))
    with pytest.raises(ValueError, match="cannot hash nan"):
        layers.Hashing(3)(np.array([[np.nan]]))


@pytest.mark.parametrize("suffix", [".keras", ".brisk"])
def test_a_model_of_strings_through_hashing_keeps_it_in_its_files(tmp_path, suffix):
    inputs = keras.Input(shape=(1,), dtype="string")
    hashed = layers.Hashing(8, salt=(1, 2), output_mode="one_hot")(inputs)
    model = keras.Model(inputs, layers.Dense(1)(hashed))
    words = np.array([["red"], ["green"], ["blue"], [""]])
    expected = model.layers[-1](layers.Hashing(8, salt=(1, 2), output_mode="one_hot")(words))
    np.testing.assert_allclose(model.predict(words, verbose=0), expected, rtol=1e-6)
    path = str(tmp_path / f"m{suffix}")
    model.save(path)
    np.testing.assert_array_equal(keras.models.load_model(path).predict(words, verbose=0),
                                  model.predict(words, verbose=0))


@pytest.mark.parametrize("suffix", [".keras", ".brisk"])
def test_category_encoding_in_files(tmp_path, suffix):
    inputs = keras.Input(shape=(2,), dtype="int32")
    model = keras.Model(inputs, layers.Dense(3)(layers.CategoryEncoding(6, output_mode="count")(inputs)))
    x = np.array([[0, 5], [2, 2]])
    path = str(tmp_path / f"m{suffix}")
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    assert again.layers[1].get_config()["output_mode"] == "count"
