from __future__ import annotations

import math

from .layer import Layer


class Flatten(Layer):
    """Flattens each sample to one dimension (a view, no copy)."""

    def sample_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training):
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, need_dx):
        return dy.reshape((dy.shape[0],) + self.input_shape)

    def engine_spec(self, offset_of):
        return []  # the engine keeps each sample's features flat
