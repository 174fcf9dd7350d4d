"""TextVectorization, StringLookup, IntegerLookup and pad_sequences against what Keras 3 (on TensorFlow) gave on the same
corpus (keras_text_expected.json, recorded by keras_text_program.py), fuzzed with random strings,
and their errors."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import brisknet as keras

import keras_text_program


def test_text_vectorization_and_pad_sequences_give_what_keras_gave():
    with open(keras_text_program.EXPECTED, encoding="utf-8") as f:
        expected = json.load(f)
    ours = keras_text_program.run(keras)
    assert set(ours) == set(expected) - {"text_model"}  # (that one: test_text_models.py)
    for key, got in ours.items():
        want = expected[key]
        if isinstance(want, dict):
            assert got["vocab"] == want["vocab"], key
            if key == "string_invert":  # (tokens back from indices)
                assert got["out"] == want["out"], key
                continue
            np.testing.assert_allclose(np.array(got["out"], float), np.array(want["out"], float), atol=1e-5,
                                       err_msg=key)
            assert got.get("size") == want.get("size"), key
        else:
            np.testing.assert_allclose(np.array(got, float), np.array(want, float), atol=1e-6, err_msg=key)


def test_output_shapes_dtypes_and_a_training_pipeline():
    layer = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=5)
    layer.adapt(np.array(["good movie", "bad movie", "good good film", "bad film"]))
    x = layer(["good film", "bad", "unseen words only here now and more"])
    assert x.dtype == np.int64 and x.shape == (3, 5)
    assert layer("good").shape == (5,)  # one string: one row, as Keras
    model = keras.Sequential([keras.Input((5,)), keras.layers.Embedding(layer.vocabulary_size(), 4),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    history = model.fit(layer(["good movie", "bad movie"] * 8), np.array([1, 0] * 8), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    counts = keras.layers.TextVectorization(output_mode="count")
    counts.adapt([b"a b b", b"c"])  # bytes, as a tf.data pipeline hands them out
    assert counts.get_vocabulary() == ["[UNK]", "b", "c", "a"]  # (ties: the larger token first, as Keras)
    np.testing.assert_array_equal(counts(["b b a z"]), [[1, 2, 0, 1]])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=12), st.lists(st.text(max_size=200), max_size=6),
       st.sampled_from(["int", "multi_hot", "count", "tf_idf"]), st.sampled_from(["whitespace", "character", None]))
def test_text_vectorization_takes_any_unicode(corpus, queries, mode, split):
    layer = keras.layers.TextVectorization(max_tokens=50, output_mode=mode, split=split, ngrams=2)
    layer.adapt(corpus)
    out = layer(queries + ["x" * 5000])
    size = layer.vocabulary_size()
    assert out.shape[0] == len(queries) + 1 and np.isfinite(out).all()
    if mode == "int":
        assert out.dtype == np.int64 and out.min() >= 0 and out.max() < size
    else:
        assert out.shape[1] == size and (out >= 0).all()


def test_bad_text_input_names_the_layer():
    layer = keras.layers.TextVectorization(name="words")
    with pytest.raises(ValueError, match="'words'.*no vocabulary"):
        layer(["a"])
    with pytest.raises(ValueError, match="'words'.*no strings"):
        layer.adapt([])
    layer.adapt(["a b"])
    with pytest.raises(TypeError, match="'words'.*expected strings, got int"):
        layer([1, 2])
    with pytest.raises(ValueError, match="'words'.*1-D batch"):
        layer([["a", "b"], ["c", "d"]])
    with pytest.raises(NotImplementedError, match="input pipeline"):
        layer(keras.Input((1,)))
    with pytest.raises(ValueError, match="output_mode"):
        keras.layers.TextVectorization(output_mode="binary")
    with pytest.raises(ValueError, match="repeated"):
        keras.layers.TextVectorization(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="idf_weights"):
        keras.layers.TextVectorization(output_mode="tf_idf", vocabulary=["a"])
    with pytest.raises(ValueError, match="padding"):
        keras.utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="not a sequence"):
        keras.utils.pad_sequences([1, 2])
    with pytest.raises(ValueError, match="not numbers"):
        keras.utils.pad_sequences([["a", "b"]])
    with pytest.raises(ValueError, match="steps of shape"):
        keras.utils.pad_sequences([[[1, 2]], [[1, 2, 3]]])


def test_keras_reads_our_bidirectional_lstm_and_we_read_its(tmp_path):
    """Both ways through .keras files (Keras' LSTM keeps its variables in its cell)."""
    from keras3 import keras_predictions, run_keras
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(20, 4)(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.LSTM(2, go_backwards=True)(x)))
    tokens = np.random.default_rng(1).integers(0, 20, (3, 6))
    np.testing.assert_allclose(keras_predictions(model, tokens, tmp_path), model.predict(tokens, verbose=0),
                               rtol=1e-5, atol=1e-6)
    script = ("import json, sys, keras, numpy as np\n"
              "i = keras.Input(shape=(None,), dtype='int32')\n"
              "x = keras.layers.Embedding(20, 4)(i)\n"
              "x = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True), merge_mode='ave')(x)\n"
              "m = keras.Model(i, keras.layers.Dense(1)(keras.layers.LSTM(2)(x)))\n"
              "m.save(sys.argv[1] + '/theirs.keras')\n"
              "t = np.arange(18).reshape(3, 6) % 20\n"
              "print(json.dumps(keras.ops.convert_to_numpy(m.predict(t, verbose=0)).tolist()))\n")
    theirs = np.asarray(run_keras(["-c", script, str(tmp_path)], cwd=str(tmp_path)))
    loaded = keras.models.load_model(str(tmp_path / "theirs.keras"))
    np.testing.assert_allclose(loaded.predict(np.arange(18).reshape(3, 6) % 20, verbose=0), theirs, rtol=1e-5,
                               atol=1e-6)


@given(st.lists(st.text(max_size=12), min_size=1, max_size=30))
@settings(max_examples=40, deadline=None)
def test_string_lookup_round_trips_any_unicode(tokens):
    layer = keras.layers.StringLookup()
    layer.adapt(np.array(tokens, dtype=object))
    ids = layer(np.array(tokens, dtype=object))
    assert ids.dtype == np.int64 and ids.min() >= 1  # (0: out of vocabulary; every token is known here)
    back = keras.layers.StringLookup(vocabulary=layer.get_vocabulary(), invert=True)(ids)
    assert back.tolist() == tokens


def test_lookup_errors_name_the_layer():
    with pytest.raises(TypeError, match="StringLookup 'words': expected strings"):
        keras.layers.StringLookup(vocabulary=["a"], name="words")(np.array([1, 2]))
    with pytest.raises(ValueError, match="'q' is not in the vocabulary"):
        keras.layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(["a", "q"])
    with pytest.raises(ValueError, match="the vocabulary is empty"):
        keras.layers.IntegerLookup(vocabulary=[])
    with pytest.raises(TypeError, match="expected integers"):
        keras.layers.IntegerLookup(vocabulary=[1, 2])(np.array([0.5]))
    with pytest.raises(ValueError, match="no vocabulary yet"):
        keras.layers.IntegerLookup()(np.array([1]))
    with pytest.raises(NotImplementedError, match="input pipeline"):
        keras.layers.StringLookup(vocabulary=["a"])(keras.Input((3,)))
    with pytest.raises(ValueError, match="num_oov_indices must be an int >= 0"):
        keras.layers.StringLookup(num_oov_indices=-1)
    with pytest.raises(ValueError, match="oov_method must be"):
        keras.layers.IntegerLookup(oov_method="modulo")
    with pytest.raises(ValueError, match="salt can only be used with oov_method='farmhash'"):
        keras.layers.IntegerLookup(num_oov_indices=2, salt=3)
    with pytest.raises(ValueError, match="salt must be an int or a tuple of 2 ints"):
        keras.layers.StringLookup(num_oov_indices=2, salt=(1, 2, 3))
    with pytest.raises(ValueError, match="indices must be in"):
        keras.layers.StringLookup(vocabulary=["a"], invert=True)(np.array([5]))
