"""MultiHeadAttention, as Keras 3's: query, key and value projections to (batch, steps, heads,
size), scaled dot-product attention, and the output projection back to (batch, steps, features).

The layer is written with keras.ops, so it is traced and differentiated like a user's layer and
works wherever one does (inside a custom layer or a Model subclass, in a functional model). The
projections are GEMMs on brisknet's micro-kernel (a reshape of the einsum); the attention itself
is one fused C++ op (ops.dot_product_attention: online softmax, tile by tile, no score matrix),
unless the scores are asked for or dropped out (return_attention_scores=True, dropout > 0): then
the scores, the softmax and the dropout are separate ops, as in Keras. (As in Keras, a query that
may attend to no key gets the mean of the values from the fused op, and zeros from the other.)"""
from __future__ import annotations

import math

import numpy as np

from .. import constraints, initializers, ops, random as random_module, regularizers
from ..serialization import serialize
from .layer import Layer


class _Projection(Layer):
    """Keras' EinsumDense for the equations MultiHeadAttention uses: the last `in_axes` axes of x
    times a kernel of shape (those axes..., out_dims...), plus a bias of shape out_dims."""

    def __init__(self, in_axes, out_dims, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                 bias_regularizer, kernel_constraint, bias_constraint, **kwargs):
        super().__init__(**kwargs)
        self.in_axes, self.out_dims, self.use_bias = in_axes, tuple(out_dims), use_bias
        self._settings = (kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                          kernel_constraint, bias_constraint)

    def build(self, input_shape):
        k_init, b_init, k_reg, b_reg, k_con, b_con = self._settings
        in_dims = tuple(input_shape[-self.in_axes:])
        if any(d is None for d in in_dims):
            raise ValueError(f"layer {self.name!r}: the last axes of its input must be known, got {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=in_dims + self.out_dims, initializer=k_init,
                                      regularizer=k_reg, constraint=k_con)
        self.bias = self.add_weight(name="bias", shape=self.out_dims, initializer=b_init, regularizer=b_reg,
                                    constraint=b_con) if self.use_bias else None

    def call(self, x):
        lead, width = tuple(x.shape[:-self.in_axes]), math.prod(x.shape[-self.in_axes:])
        units = math.prod(self.out_dims)
        y = ops.matmul(ops.reshape(x, (-1, width)), ops.reshape(self.kernel, (width, units)))
        if self.use_bias:
            y = y + ops.reshape(self.bias, (units,))
        # (the steps as -1: the traced program serves other sequence lengths; size_families.py)
        return ops.reshape(y, (lead[:-1] + (-1,) if all(lead) else lead) + self.out_dims)


class MultiHeadAttention(Layer):
    """keras.layers.MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0,
    use_bias=True, output_shape=None, attention_axes=None, ...) called as
    layer(query, value, key=None, attention_mask=None, return_attention_scores=False,
    training=None, use_causal_mask=False), on (batch, steps, features) tensors."""
    _MASKING = True  # (Keras: supports_masking)

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        for what, v in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"MultiHeadAttention: {what} must be a positive int, got {v!r}")
        if not 0 <= float(dropout) < 1:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout!r}")
        if attention_axes is not None and tuple(np.atleast_1d(attention_axes)) not in ((1,), (-2,)):
            raise NotImplementedError("MultiHeadAttention: attention over axes other than the steps of (batch, steps, "
                                      "features) inputs is not supported yet")
        if activity_regularizer is not None:
            raise NotImplementedError("MultiHeadAttention: activity_regularizer is not supported yet")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim is not None else self.key_dim
        self.dropout, self.use_bias, self.seed = float(dropout), bool(use_bias), seed
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise NotImplementedError("MultiHeadAttention: an output_shape of more than one axis is not supported")
            output_shape = output_shape[0]
        self._output_shape = None if output_shape is None else int(output_shape)
        self.attention_axes = attention_axes
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._seed_generator = random_module.SeedGenerator(seed) if self.dropout > 0 else None
        settings = (self.use_bias, self.kernel_initializer, self.bias_initializer, self.kernel_regularizer,
                    self.bias_regularizer, self.kernel_constraint, self.bias_constraint)
        # (created here in Keras' order: its weights are query, key, value, then the output's)
        # (Keras: the projections take the layer's dtype policy)
        self._query_dense = _Projection(1, (self.num_heads, self.key_dim), *settings, name="query",
                                        dtype=self.dtype_policy)
        self._key_dense = _Projection(1, (self.num_heads, self.key_dim), *settings, name="key", dtype=self.dtype_policy)
        self._value_dense = _Projection(1, (self.num_heads, self.value_dim), *settings, name="value",
                                        dtype=self.dtype_policy)
        self._output_dense = None  # its width is the query's unless output_shape says: made on the first call
        self._settings = settings

    def build(self, query_shape, value_shape=None, key_shape=None):
        self.built = True

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        key = value if key is None else key
        for what, t in (("query", query), ("value", value), ("key", key)):
            if len(t.shape) != 3:
                raise ValueError(f"layer {self.name!r}: {what} must be (batch, steps, features), got shape {t.shape}")
        if self._output_dense is None:
            width = self._output_shape or query.shape[-1]
            self._output_dense = _Projection(2, (width,), *self._settings, name="attention_output",
                                             dtype=self.dtype_policy)
        q, k, v = self._query_dense(query), self._key_dense(key), self._value_dense(value)
        mask = self._mask(query, value, query_mask, value_mask if value_mask is not None else key_mask,
                          attention_mask)
        scale = 1.0 / math.sqrt(self.key_dim)
        dropping = self.dropout > 0 and bool(training)
        scores = None
        if return_attention_scores or dropping:
            out, scores = self._unfused(q, k, v, mask, use_causal_mask, scale, dropping)
        else:
            out = ops.dot_product_attention(q, k, v, mask=mask, scale=scale, is_causal=bool(use_causal_mask))
        out = self._output_dense(out)
        return (out, scores) if return_attention_scores else out

    @staticmethod
    def _mask(query, value, query_mask, value_mask, attention_mask):
        """Keras' combination: attention_mask (batch, queries, keys), query and value masks."""
        mask = None if attention_mask is None else ops.cast(attention_mask, "bool")
        if query_mask is not None or value_mask is not None:
            q = ops.ones((query.shape[0], query.shape[1]), "bool") if query_mask is None else ops.cast(query_mask, "bool")
            v = ops.ones((value.shape[0], value.shape[1]), "bool") if value_mask is None else ops.cast(value_mask, "bool")
            both = ops.logical_and(ops.expand_dims(q, -1), ops.expand_dims(v, 1))
            mask = both if mask is None else ops.logical_and(mask, both)
        return mask

    def _unfused(self, q, k, v, mask, causal, scale, dropping):
        """Keras' own formulation, for the scores (batch, heads, queries, keys) and their dropout."""
        scores = ops.einsum("aecd,abcd->acbe", k, ops.multiply(q, scale))
        allow = None if mask is None else ops.expand_dims(ops.cast(mask, "bool"), 1)
        if causal:
            tq, tk = q.shape[1], k.shape[1]
            tri = np.tril(np.ones((tq, tk), bool))[None, None]
            allow = tri if allow is None else ops.logical_and(allow, tri)
        if allow is not None:
            scores = ops.where(allow, scores, -1e9)
        scores = ops.softmax(scores, axis=-1)
        if allow is not None:  # (Keras' masked softmax: a row that may attend to nothing is all zeros here)
            scores = ops.multiply(scores, ops.cast(allow, scores.dtype))
        dropped = random_module.dropout(scores, self.dropout, seed=self._seed_generator) if dropping else scores
        return ops.einsum("acbe,aecd->abcd", dropped, v), scores

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return tuple(query_shape[:-1]) + (self._output_shape or query_shape[-1],)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self._output_shape, "attention_axes": self.attention_axes,
                "kernel_initializer": serialize(self.kernel_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                "kernel_regularizer": serialize(self.kernel_regularizer),
                "bias_regularizer": serialize(self.bias_regularizer), "activity_regularizer": None,
                "kernel_constraint": serialize(self.kernel_constraint),
                "bias_constraint": serialize(self.bias_constraint), "seed": self.seed}
