"""Keras' reshaping layers: Reshape, Permute, RepeatVector, and Identity. Each sample's values
are moved, never computed; backward moves the gradient back."""
from __future__ import annotations

import math

import numpy as np

from .layer import Layer


class Identity(Layer):
    """Returns its input."""
    _MASKING = True  # (Keras: supports_masking)
    elementwise = True

    def forward(self, x, training):
        return x

    def backward(self, dy, need_dx):
        return dy

    def engine_spec(self, offset_of):
        return []  # nothing to do


class Reshape(Layer):
    """Each sample to `target_shape` (one entry may be -1: inferred)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        shape = tuple(target_shape) if isinstance(target_shape, (list, tuple)) else (target_shape,)
        if not shape or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or (d < 1 and d != -1)
                            for d in shape) or sum(d == -1 for d in shape) > 1:
            raise ValueError(f"Reshape: target_shape must be positive ints (one may be -1), got {target_shape!r}")
        self.target_shape = tuple(int(d) for d in shape)

    def sample_output_shape(self, input_shape):
        size = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(f"Reshape {self.name!r}: cannot reshape {(None,) + tuple(input_shape)} to "
                                 f"{(None,) + self.target_shape}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(f"Reshape {self.name!r}: cannot reshape {(None,) + tuple(input_shape)} ({size} values "
                             f"per sample) to {(None,) + self.target_shape} ({known})")
        return self.target_shape

    def forward(self, x, training):
        return x.reshape((x.shape[0],) + tuple(self.output_shape))

    def backward(self, dy, need_dx):
        return dy.reshape((dy.shape[0],) + tuple(self.input_shape))

    def engine_spec(self, offset_of):
        return []  # the engine keeps each sample's values flat, in this order

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """The sample's axes reordered: dims is a permutation of 1..rank (the batch axis stays)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(dims)}, got {dims!r}")
        self.dims = dims

    def sample_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims):
            raise ValueError(f"Permute {self.name!r}: dims {self.dims} for samples of rank {len(input_shape)} "
                             f"{(None,) + tuple(input_shape)}")
        return tuple(input_shape[d - 1] for d in self.dims)

    def forward(self, x, training):
        return np.ascontiguousarray(np.transpose(x, (0,) + self.dims))

    def backward(self, dy, need_dx):
        return np.ascontiguousarray(np.transpose(dy, (0,) + tuple(np.argsort(self.dims) + 1)))

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """(features,) -> (n, features): the sample repeated n times."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"RepeatVector: n must be a positive int, got {n!r}")
        self.n = int(n)

    def sample_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"RepeatVector {self.name!r} expects samples of shape (features,), got "
                             f"{(None,) + tuple(input_shape)}")
        return (self.n, input_shape[0])

    def forward(self, x, training):
        y = self.buffer("y", (x.shape[0], self.n, x.shape[1]), x.dtype)
        y[...] = x[:, None, :]
        return y

    def backward(self, dy, need_dx):
        return dy.sum(axis=1) if need_dx else None

    def get_config(self):
        return {**super().get_config(), "n": self.n}
