"""Keras' masks (layers/masking.py): made by Embedding(mask_zero=True) and Masking, carried through
Sequential and functional models and traced call()s, consumed by recurrent layers, global average
pooling, attention and the loss."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import ops
from brisknet.models import engine

rng = np.random.default_rng(0)
LENGTHS = [5, 2, 4, 1]


def _ids():
    return keras.utils.pad_sequences([rng.integers(1, 9, n).tolist() for n in LENGTHS], maxlen=6, padding="post")


def test_a_padded_batch_gives_each_sequence_its_own_result_in_sequential_and_functional_models():
    ids = _ids()
    seq = keras.Sequential([keras.Input((None,)), keras.layers.Embedding(9, 4, mask_zero=True),
                            keras.layers.LSTM(3, return_sequences=True), keras.layers.GRU(3),
                            keras.layers.Dense(2)])
    inputs = keras.Input((None,))
    x = keras.layers.Embedding(9, 4, mask_zero=True)(inputs)
    x = keras.layers.Bidirectional(keras.layers.SimpleRNN(3, return_sequences=True))(x)
    x = keras.layers.Dense(3)(x)  # (passes the mask on)
    graph = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(x))
    for model in (seq, graph):
        batch = model.predict(ids, verbose=0)
        for i, n in enumerate(LENGTHS):
            np.testing.assert_allclose(batch[i], model.predict(ids[i:i + 1, :n], verbose=0)[0], rtol=1e-5,
                                       atol=1e-6)


def test_global_average_pooling_averages_the_kept_steps_and_its_gradient():
    layer = keras.layers.GlobalAveragePooling1D()
    x = rng.standard_normal((3, 4, 2))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 1, 0, 1]], bool)
    layer.build_sample((4, 2))
    y = layer.forward(x, True, mask=mask)
    want = np.stack([x[i][mask[i]].mean(axis=0) for i in range(3)])
    np.testing.assert_allclose(y, want, rtol=1e-12)
    dy = rng.standard_normal((3, 2))
    dx = layer.backward(dy, True)
    np.testing.assert_allclose(dx, mask[:, :, None] * dy[:, None, :] / mask.sum(axis=1)[:, None, None], rtol=1e-12)


def test_masking_layer_zeroes_and_masks_the_steps_equal_to_the_value():
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    x[0, 2:] = -1.0
    layer = keras.layers.Masking(mask_value=-1.0)
    np.testing.assert_array_equal(layer(x)[0, 2:], 0.0)
    np.testing.assert_array_equal(layer.compute_mask(x), [[True, True, False, False], [True] * 4])
    assert keras.layers.Masking.from_config(layer.get_config()).mask_value == -1.0


def test_merge_layers_and_their_masks():
    a, b = np.array([[1, 1, 0]], bool), np.array([[1, 0, 0]], bool)
    x = np.zeros((1, 3, 2), np.float32)
    np.testing.assert_array_equal(keras.layers.Add().compute_mask([x, x], [a, b]), [[1, 0, 0]])
    assert keras.layers.Add().compute_mask([x, x], [a, None]) is None
    np.testing.assert_array_equal(keras.layers.Concatenate().compute_mask([x, x], [a, None]), a)
    np.testing.assert_array_equal(keras.layers.Concatenate(axis=1).compute_mask([x, x], [a, b]),
                                  [[1, 1, 0, 1, 0, 0]])


def test_the_loss_skips_masked_positions():
    ids = _ids()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Embedding(9, 4, mask_zero=True),
                              keras.layers.SimpleRNN(3, return_sequences=True),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    tags = ids % 3
    probs = model.predict(ids, verbose=0)
    per_position = -np.log(np.take_along_axis(probs, tags[..., None], axis=-1)[..., 0])
    kept = ids != 0
    assert model.evaluate(ids, tags, verbose=0) == pytest.approx(per_position[kept].mean(), rel=1e-5)


def test_the_engine_leaves_masked_models_to_the_python_path():
    model = keras.Sequential([keras.Input((None,)), keras.layers.Embedding(9, 4, mask_zero=True, name="tokens"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    assert engine.why_not(model) is not None  # (no layer that makes masks has an engine kernel)
    ids = _ids()
    model.fit(ids, np.zeros(4), epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(ids[1:2, :2], verbose=0), model.predict(ids[1:2], verbose=0), rtol=1e-6)


class Encoder(keras.Model):
    """A subclassed model: the embedding's mask reaches the LSTM by itself, as in Keras."""

    def __init__(self):
        super().__init__()
        self.embedding = keras.layers.Embedding(9, 4, mask_zero=True)
        self.lstm = keras.layers.LSTM(3)
        self.pool = keras.layers.GlobalAveragePooling1D()

    def call(self, x):
        e = self.embedding(x)
        return ops.concatenate([self.lstm(e), self.pool(e)], axis=-1)


def test_masks_travel_with_traced_tensors_in_a_subclassed_model():
    ids = _ids()
    model = Encoder()
    batch = model.predict(ids, verbose=0)
    for i, n in enumerate(LENGTHS):
        np.testing.assert_allclose(batch[i], model.predict(ids[i:i + 1, :n], verbose=0)[0], rtol=1e-5, atol=1e-6)
    model.compile("adam", "mse")
    model.fit(ids, np.zeros((4, 7)), epochs=1, verbose=0)  # (the masked pooling's gradient runs)


def test_multi_head_attention_takes_its_inputs_masks():
    ids = _ids()
    inputs = keras.Input((None,))
    x = keras.layers.Embedding(9, 4, mask_zero=True)(inputs)
    x = keras.layers.MultiHeadAttention(2, 3)(x, x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(x))
    batch = model.predict(ids, verbose=0)
    for i, n in enumerate(LENGTHS):
        np.testing.assert_allclose(batch[i], model.predict(ids[i:i + 1, :n], verbose=0)[0], rtol=1e-5, atol=1e-6)


def test_ragged_and_non_numeric_sequences_are_explained():
    model = keras.Sequential([keras.Input((None,)), keras.layers.Embedding(10, 4, name="tokens"),
                              keras.layers.LSTM(3)])
    for ragged in ([[1, 2], [3]], np.array([[1, 2], [3]], dtype=object)):  # (a list; imdb.load_data's arrays)
        with pytest.raises(ValueError, match="ragged sequences.*pad_sequences"):
            model.predict(ragged, verbose=0)
    with pytest.raises(TypeError, match="expected a numeric array"):
        model.predict(np.array([["a", "b"]]), verbose=0)
    with pytest.raises(ValueError, match="Embedding 'tokens': indices must be whole numbers"):
        model.predict(np.array([[1.5, 2]]), verbose=0)
