"""A custom layer's call() traced at two sizes of an input serves every further size without a new
trace when the two graphs agree (autodiff/size_families.py): the sampling loop of a small GPT on a
growing prompt traces its layers twice, not once per length, and gives what a trace at that length
gives; a layer whose graph fixes the length is traced per length as before."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers, ops


class TokenAndPositionEmbedding(layers.Layer):  # (the keras-io miniature GPT's, positions by ops.arange)
    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        return self.token_emb(x) + self.pos_emb(ops.arange(ops.shape(x)[-1]))


class Block(layers.Layer):
    def __init__(self, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.att = layers.MultiHeadAttention(2, embed_dim)
        self.norm = layers.LayerNormalization(epsilon=1e-6)
        self.ffn = layers.Dense(embed_dim)

    def call(self, x):
        return self.norm(x + self.ffn(self.att(x, x, use_causal_mask=True)))


class FixedLength(layers.Layer):
    """A constant the size of the input's steps: its graph differs with the length."""

    def call(self, x):
        return x + ops.ones((1, ops.shape(x)[1], 1)) * ops.cast(ops.shape(x)[1], "float32")


def gpt(vocab=30, maxlen=16, embed=8):
    inputs = layers.Input(shape=(None,), dtype="int32")
    x = Block(embed)(TokenAndPositionEmbedding(maxlen, vocab, embed)(inputs))
    return keras.Model(inputs, layers.Dense(vocab)(x))


def traced_programs(layer):
    return {id(p) for (shapes, dtype, training, masks, slot), p in layer._programs.items() if not training}


def test_a_growing_prompt_traces_twice_and_predicts_as_a_trace_at_each_length():
    keras.utils.set_random_seed(1)
    model = gpt()
    tokens = np.random.default_rng(0).integers(1, 30, (1, 15))
    outputs = [model.predict(tokens[:, :n], verbose=0) for n in range(1, 16)]
    for layer in model.layers[1:3]:
        assert len(traced_programs(layer)) <= 3, layer.name  # (the stand-in size, the first prompt, one more)
    fresh = gpt()
    fresh.set_weights(model.get_weights())
    for n in (1, 7, 15):  # traced at exactly that length in a model of the same weights
        again = fresh.predict(tokens[:, :n], verbose=0)
        assert outputs[n - 1].shape == (1, n, 30)
        np.testing.assert_allclose(outputs[n - 1], again, rtol=1e-5, atol=1e-6)
    # causal: a longer prompt leaves the earlier positions' logits as they were
    np.testing.assert_allclose(outputs[14][:, :5], outputs[4], rtol=1e-4, atol=1e-5)


def test_arange_up_to_a_traced_size_is_a_node_reading_it():
    layer = TokenAndPositionEmbedding(10, 5, 3)
    x = np.array([[1, 2, 3, 4]])
    eager = layer(x)
    model = keras.Sequential([keras.Input((None,), dtype="int32"), layer])
    np.testing.assert_allclose(model.predict(x, verbose=0), eager, rtol=1e-6)
    np.testing.assert_allclose(model.predict(x[:, :2], verbose=0), layer(x[:, :2]), rtol=1e-6)
    assert np.array_equal(ops.arange(4), np.arange(4))  # (outside a trace: numpy, as before)


def test_a_layer_whose_graph_fixes_the_length_is_traced_per_length():
    layer = FixedLength()
    model = keras.Sequential([keras.Input((None, 2)), layer])
    for n in (3, 4, 5, 6):
        x = np.zeros((1, n, 2), np.float32)
        np.testing.assert_array_equal(model.predict(x, verbose=0), np.full((1, n, 2), n, np.float32))
    assert len(traced_programs(layer)) >= 4  # (one per length: nothing served)


@pytest.mark.parametrize("n", [1, 2])
def test_served_programs_refuse_other_fixed_sizes(n):
    model = gpt()
    model.predict(np.ones((1, 4), np.int64), verbose=0)
    model.predict(np.ones((1, 5), np.int64), verbose=0)
    out = model.predict(np.ones((n, 6), np.int64), verbose=0)  # another batch size: traced, not served wrongly
    assert out.shape == (n, 6, 30)


class SubclassedGPT(keras.Model):
    def __init__(self, vocab=30, maxlen=16, dim=8):
        super().__init__()
        self.tok, self.pos = layers.Embedding(vocab, dim), layers.Embedding(maxlen, dim)
        self.att, self.norm, self.out = layers.MultiHeadAttention(2, dim), layers.LayerNormalization(), \
            layers.Dense(vocab)

    def call(self, x):
        h = self.tok(x) + self.pos(ops.arange(ops.shape(x)[1]))
        return self.out(self.norm(h + self.att(h, h, use_causal_mask=True)))


def test_a_model_subclass_on_a_growing_prompt_and_then_trained_there():
    keras.utils.set_random_seed(2)
    model = SubclassedGPT()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tokens = np.random.default_rng(1).integers(1, 30, (16, 13))
    model.fit(tokens[:, :8], tokens[:, 1:9], epochs=1, batch_size=8, verbose=0)
    outputs = [model.predict(tokens[:1, :n], verbose=0) for n in range(1, 13)]
    inference = {id(p) for (shape, dtype, training, targets), p in model._programs.items()
                 if not training and targets is None and shape[0] == 1}
    assert len(inference) <= 4  # (built at 8, then 1 and 2 traced; the rest served)
    fresh = SubclassedGPT()
    fresh.build((None, 8))
    fresh.set_weights(model.get_weights())
    np.testing.assert_allclose(fresh.predict(tokens[:1, :7], verbose=0), outputs[6], rtol=1e-5, atol=1e-6)
    # trained at a length only served so far: traced for training then, and predicts as a fresh trace
    model.fit(tokens[:, :11], tokens[:, 1:12], epochs=1, batch_size=8, verbose=0)
    fresh.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(tokens[:2, :11], verbose=0), fresh.predict(tokens[:2, :11], verbose=0),
                               rtol=1e-5, atol=1e-6)
