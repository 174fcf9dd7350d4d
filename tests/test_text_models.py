"""Models that take strings (keras.Input(shape=(1,), dtype="string") -> TextVectorization or
StringLookup -> layers on numbers): trained and run on raw texts, saved with their vocabulary,
and a Keras-made archive read (keras_text_model.keras, recorded by keras_text_program.py)."""
import json
import os

import numpy as np
import pytest

import brisknet as keras
from brisknet import layers

import keras_text_program

TEXTS = keras_text_program.TEXTS


def test_we_read_keras_text_model_and_predict_what_keras_predicted(tmp_path):
    with open(keras_text_program.EXPECTED, encoding="utf-8") as f:
        expected = np.array(json.load(f)["text_model"])
    model = keras.models.load_model(keras_text_program.TEXT_MODEL)  # (its vocabulary is among the assets)
    assert model.input_shape == (None, 1)
    assert [type(layer).__name__ for layer in model.layers[:2]] == ["InputLayer", "TextVectorization"]
    np.testing.assert_allclose(model.predict(TEXTS, verbose=0), expected, atol=1e-6)
    for form in (list(TEXTS), TEXTS.astype(str)[:, None], [t.encode() for t in TEXTS]):
        np.testing.assert_allclose(model.predict(form, verbose=0), expected, atol=1e-6)
    for ext in ("keras", "brisk"):
        path = os.path.join(tmp_path, "m." + ext)
        model.save(path)
        loaded = keras.models.load_model(path)
        assert loaded.layers[1].get_vocabulary() == model.layers[1].get_vocabulary()
        np.testing.assert_array_equal(loaded.predict(TEXTS, verbose=0), model.predict(TEXTS, verbose=0))


def test_a_model_of_strings_trains_on_texts_as_on_their_numbers():
    texts = np.array(["good fine great", "bad awful poor", "great good", "poor bad", "fine great good",
                      "awful poor bad"] * 4)
    labels = np.array([1, 0, 1, 0, 1, 0] * 4)

    def make():
        model = keras_text_program.text_model(keras)
        model.layers[1].adapt(texts)
        model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
    on_texts, on_numbers = make(), make()
    numbers = on_numbers.layers[1](texts)
    on_texts.fit(texts, labels, batch_size=6, epochs=8, shuffle=False, verbose=0)
    on_numbers.fit(numbers, labels, batch_size=6, epochs=8, shuffle=False, verbose=0)
    for a, b in zip(on_texts.get_weights(), on_numbers.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert on_texts.evaluate(texts, labels, verbose=0)[1] == 1.0
    batches = ((texts[i:i + 6], labels[i:i + 6]) for i in range(0, 24, 6))  # (a generator of batches)
    np.testing.assert_allclose(on_texts.evaluate(batches, verbose=0), on_texts.evaluate(texts, labels, verbose=0),
                               rtol=1e-6)
    np.testing.assert_array_equal(on_texts.predict(texts, verbose=0), on_texts.predict(numbers, verbose=0))


@pytest.mark.parametrize("suffix", [".keras", ".brisk"])
def test_hashed_out_of_vocabulary_indices_survive_the_files(tmp_path, suffix):
    lookup = layers.StringLookup(vocabulary=["red", "green"], num_oov_indices=3, salt=(5, 9))
    inputs = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inputs, layers.Dense(1)(layers.Flatten()(layers.Embedding(5, 2)(lookup(inputs)))))
    texts = np.array([["red"], ["pink"], ["mauve"], ["teal"], ["green"]])
    path = str(tmp_path / f"m{suffix}")
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(again.predict(texts, verbose=0), model.predict(texts, verbose=0))
    assert again.layers[1].get_config()["salt"] == [5, 9] and again.layers[1].num_oov_indices == 3


def test_a_string_lookup_model_and_the_errors_of_string_inputs():
    lookup = layers.StringLookup(vocabulary=["red", "green", "blue"])
    inputs = keras.Input(shape=(1,), dtype="string")
    x = layers.Flatten()(layers.Embedding(4, 2)(lookup(inputs)))
    model = keras.Model(inputs, layers.Dense(1)(x))
    table = model.layers[2].get_weights()[0]
    kernel, bias = model.layers[-1].get_weights()
    np.testing.assert_allclose(model.predict(np.array([["blue"], ["pink"], ["red"]]), verbose=0),
                               table[[3, 0, 1]] @ kernel + bias, rtol=1e-6)
    with pytest.raises(ValueError, match="must go through a text layer"):
        keras.Model(keras.Input(shape=(1,), dtype="string"), layers.Dense(1)(keras.Input(shape=(2,))))
    with pytest.raises(NotImplementedError, match="string input"):
        layers.StringLookup(vocabulary=["a"])(layers.Dense(2)(keras.Input(shape=(3,))))
    with pytest.raises(ValueError, match=r"shape=\(1,\)"):
        layers.StringLookup(vocabulary=["a"])(keras.Input(shape=(3,), dtype="string"))
    with pytest.raises(TypeError, match="expected strings"):
        keras_text_program.text_model(keras).predict(np.array([[1.0], [2.0]], dtype=object), verbose=0)
