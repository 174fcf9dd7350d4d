"""keras.layers.CategoryEncoding, and Keras' encoding of category indices that StringLookup,
IntegerLookup and Hashing share (Keras' numerical_utils.encode_categorical_inputs): 'one_hot' adds
an axis of `depth` (replacing a last axis of 1), 'multi_hot' and 'count' encode the last axis (a
vector is one sample, a scalar one index)."""
from __future__ import annotations

import numpy as np

from .layer import Layer

MODES = ("one_hot", "multi_hot", "count")


def encode(ids, output_mode, depth, count_weights=None) -> np.ndarray:
    """Indices (negative ones skipped: a lookup's dropped mask token) as float32 vectors of depth."""
    ids = np.asarray(ids, np.int64)
    if ids.ndim == 0:
        ids = ids[None]
    if output_mode == "one_hot":
        if ids.ndim > 1 and ids.shape[-1] == 1:
            ids = ids[..., 0]
        out = np.zeros(ids.shape + (depth,), np.float32)
        keep = ids >= 0
        np.put_along_axis(out, np.where(keep, ids, 0)[..., None], keep[..., None].astype(np.float32), -1)
        return out
    rows = ids.reshape(-1, ids.shape[-1])
    weights = None if count_weights is None else \
        np.broadcast_to(np.asarray(count_weights, np.float32), ids.shape).reshape(rows.shape)  # (as Keras: float32)
    out = np.zeros((rows.shape[0], depth), np.float32)
    r, c = np.nonzero(rows >= 0)
    if output_mode == "multi_hot":
        out[r, rows[r, c]] = 1
    else:
        np.add.at(out, (r, rows[r, c]), 1 if weights is None else weights[r, c])
    return out.reshape(ids.shape[:-1] + (depth,))


class CategoryEncoding(Layer):
    """keras.layers.CategoryEncoding(num_tokens, output_mode='multi_hot', sparse=False): indices in
    [0, num_tokens) as one-hot, multi-hot or count vectors; called as layer(x, count_weights=None)
    on arrays of any rank (in the input pipeline) or in a model (no gradient flows to indices)."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":  # (Keras' old name)
            output_mode = "multi_hot"
        if output_mode not in MODES:
            raise ValueError(f"CategoryEncoding: output_mode must be one of {MODES}, got {output_mode!r}")
        if num_tokens is None or isinstance(num_tokens, bool) or not isinstance(num_tokens, (int, np.integer)) or \
                num_tokens < 1:
            raise ValueError(f"CategoryEncoding: num_tokens must be an int >= 1 (use IntegerLookup when the number "
                             f"of tokens is not known), got {num_tokens!r}")
        if sparse:
            raise NotImplementedError("CategoryEncoding: sparse outputs are not supported")
        self.num_tokens, self.output_mode = int(num_tokens), output_mode

    def __call__(self, inputs=None, count_weights=None, training=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"CategoryEncoding {self.name!r}: count_weights is used with output_mode='count' only")
        if isinstance(inputs, (np.ndarray, list, tuple, int, np.integer)) and not self._symbolic_list(inputs):
            return self._encode(np.asarray(inputs), count_weights)
        if count_weights is not None:
            raise NotImplementedError(f"CategoryEncoding {self.name!r}: count_weights in a model is not supported")
        return super().__call__(inputs, training=training)

    @staticmethod
    def _symbolic_list(inputs) -> bool:
        from .symbolic import is_symbolic
        return isinstance(inputs, (list, tuple)) and any(is_symbolic(t) for t in inputs)

    def _encode(self, x, count_weights=None):
        where = f"CategoryEncoding {self.name!r}"
        if x.dtype.kind not in "biuf":
            raise TypeError(f"{where}: expected integer indices, got dtype {x.dtype}")
        ids = x.astype(np.int64)
        if not np.array_equal(ids, x):
            raise ValueError(f"{where}: expected whole numbers, got {x[ids != x].ravel()[0]!r}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_tokens):
            raise ValueError(f"{where}: indices must be in [0, {self.num_tokens}), got values in "
                             f"[{ids.min()}, {ids.max()}]")
        if count_weights is not None and np.shape(count_weights) != ids.shape:
            raise ValueError(f"{where}: count_weights of shape {np.shape(count_weights)} for indices of shape "
                             f"{ids.shape}")
        return encode(ids, self.output_mode, self.num_tokens, count_weights)

    # ------------------------------------------------------------------ in a model
    def _eager_input(self, x):
        return np.asarray(x)

    def sample_output_shape(self, input_shape):
        return tuple(self.compute_output_shape((None,) + tuple(input_shape)))[1:]

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if not shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (shape[-1] != 1 or len(shape) == 1):
            return shape + (self.num_tokens,)
        return shape[:-1] + (self.num_tokens,)

    def forward(self, x, training):
        self._x_shape = np.shape(x)
        return self._encode(np.asarray(x))

    def backward(self, dy, need_dx):
        return np.zeros(self._x_shape, np.float32) if need_dx else None  # (indices: no gradient)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode,
                "sparse": False}
