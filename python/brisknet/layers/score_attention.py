"""Keras' Attention (Luong's dot-product) and AdditiveAttention (Bahdanau's) layers, called on
[query, value] or [query, value, key]: scores of every query against every key, a softmax over the
keys (masked ones left out), and the values weighted by it. Written with keras.ops, as Keras."""
from __future__ import annotations

from .. import ops, random as random_module
from .layer import Layer


class Attention(Layer):
    """keras.layers.Attention(use_scale=False, score_mode='dot', dropout=0.0, seed=None), called as
    layer([query, value(, key)], mask=[query_mask, value_mask], training, return_attention_scores,
    use_causal_mask)."""

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{type(self).__name__}: score_mode must be 'dot' or 'concat', got {score_mode!r}")
        if not 0 <= float(dropout) < 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout!r}")
        self.use_scale, self.score_mode, self.dropout, self.seed = bool(use_scale), score_mode, float(dropout), seed
        self._seed_generator = random_module.SeedGenerator(seed) if self.dropout > 0 else None
        self.supports_masking = True

    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) is called on [query, value] or [query, "
                             f"value, key], got {type(inputs).__name__}")
        shapes = [tuple(t.shape) if hasattr(t, "shape") else tuple(t) for t in inputs]
        if any(len(s) != 3 for s in shapes) or shapes[0][-1] != shapes[-1][-1]:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}): query and key must be (batch, steps, "
                             f"dim) with the same dim, got {shapes}")
        return shapes

    def build(self, input_shape):
        self._check(input_shape)
        self.scale = self.add_weight(name="scale", shape=(), initializer="ones") if self.use_scale else None
        self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(), initializer="ones") \
            if self.score_mode == "concat" else None

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            return scores * self.scale if self.scale is not None else scores
        pairs = ops.expand_dims(query, -2) + ops.expand_dims(key, -3)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * ops.sum(ops.tanh(pairs), axis=-1)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        self._check(inputs)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask, value_mask = (mask[0], mask[1]) if mask else (None, None)
        scores = self._scores(query, key)
        allowed = None if value_mask is None else ops.expand_dims(ops.cast(value_mask, "bool"), -2)
        if use_causal_mask:
            tq, tv = scores.shape[-2], scores.shape[-1]
            causal = ops.greater_equal(ops.expand_dims(ops.arange(tq), 1), ops.expand_dims(ops.arange(tv), 0))
            causal = ops.expand_dims(causal, 0)
            allowed = causal if allowed is None else ops.logical_and(allowed, causal)
        if allowed is not None:  # (Keras: masked keys 1e9 below their score)
            scores = ops.where(allowed, scores, scores - 1.0e9)
        weights = ops.softmax(scores, axis=-1)
        dropped = random_module.dropout(weights, self.dropout, seed=self._seed_generator) \
            if training and self.dropout > 0 else weights
        out = ops.matmul(dropped, value)
        if query_mask is not None:
            out = ops.where(ops.expand_dims(ops.cast(query_mask, "bool"), -1), out, 0.0)
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs, mask=None):
        return None if not mask or mask[0] is None else mask[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (tuple(input_shape[1])[-1],)

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """keras.layers.AdditiveAttention(use_scale=True, dropout=0.0): scores sum(scale * tanh(query +
    key)) over the features, scale a trained vector."""

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale=use_scale, score_mode="dot", dropout=dropout, seed=seed, **kwargs)

    def build(self, input_shape):
        shapes = self._check(input_shape)
        self.scale = self.add_weight(name="scale", shape=(shapes[0][-1],), initializer="glorot_uniform") \
            if self.use_scale else None

    def _scores(self, query, key):
        pairs = ops.tanh(ops.expand_dims(query, -2) + ops.expand_dims(key, -3))
        return ops.sum(self.scale * pairs if self.scale is not None else pairs, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
