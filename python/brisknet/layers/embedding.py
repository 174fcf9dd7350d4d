"""Embedding: integer indices to rows of a trained table, as Keras (embeddings of shape
(input_dim, output_dim), initialised uniformly in [-0.05, 0.05])."""
from __future__ import annotations

import numpy as np

from .. import _core, initializers, regularizers
from ..serialization import serialize
from .layer import Layer

EXACT_INDICES = 2 ** 24  # a model's inputs pass through float32, which holds every int below this


class Embedding(Layer):
    """(..., ) indices -> (..., output_dim): row i of the table for index i. Indices must be whole
    numbers in [0, input_dim). Backward adds each output's gradient to its row (rows hit twice get
    both, in order); no gradient flows to the indices."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, input_length=None,
                 **kwargs):
        super().__init__(**kwargs)
        for name, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, got {v!r}")
        if input_dim > EXACT_INDICES:
            raise NotImplementedError(f"Embedding: input_dim above {EXACT_INDICES} is not supported (indices reach "
                                      "the layer as float32)")
        if embeddings_constraint is not None or lora_rank is not None:
            raise NotImplementedError("Embedding: embeddings_constraint and lora_rank are not supported")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self._initial = None if weights is None else [np.asarray(w, np.float32) for w in weights]

    @property
    def supports_masking(self) -> bool:
        return self.mask_zero

    def compute_mask(self, inputs, mask=None):
        """mask_zero=True: index 0 is padding (layers/masking.py)."""
        if not self.mask_zero:
            return None
        from .. import ops
        return ops.not_equal(inputs, 0)

    def _eager_input(self, x):
        x = np.asarray(x)
        if x.ndim == 1 and x.dtype.kind in "biuf":  # (as Keras: a vector of indices, one vector per index)
            return np.ascontiguousarray(x, dtype=np.float32)
        return super()._eager_input(x)

    def sample_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def weight_specs(self):
        init = self.embeddings_initializer
        if self._initial is not None:  # Keras' weights=[table]
            table = self._initial[0]
            init = lambda shape, dtype: table  # noqa: E731
        return [("embeddings", (self.input_dim, self.output_dim), init)]

    @property
    def embeddings(self):
        return self.weights[0]

    def forward(self, x, training):
        idx = x.astype(np.int64)
        if not np.array_equal(idx, x) or idx.size and (idx.min() < 0 or idx.max() >= self.input_dim):
            bad = x[(idx != x) | (idx < 0) | (idx >= self.input_dim)].ravel()[0]
            raise ValueError(f"Embedding {self.name!r}: indices must be whole numbers in [0, {self.input_dim}), "
                             f"got {bad!r}")
        self._idx = idx
        table = self._weights[0]
        y = self.buffer("y", idx.shape + (self.output_dim,), table.dtype)
        _core.embedding_gather(y, table, idx)  # (C++: kernels/embedding.cpp)
        return y

    def backward(self, dy, need_dx):
        """The scatter-add of dy's rows into the rows they came from: no dense one-hot, the same
        sums on any number of threads."""
        dy = np.ascontiguousarray(dy, self._grads[0].dtype)
        _core.embedding_scatter_add(self._grads[0], dy, self._idx)
        return np.zeros(self._idx.shape, dy.dtype) if need_dx else None

    def weight_regularizers(self):
        return [] if self.embeddings_regularizer is None else [(0, self.embeddings_regularizer)]

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": serialize(self.embeddings_initializer),
                "embeddings_regularizer": serialize(self.embeddings_regularizer), "mask_zero": self.mask_zero}
