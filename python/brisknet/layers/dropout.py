from __future__ import annotations

import math

import numpy as np

from .. import _core
from .seeded import SeededLayer


class Dropout(SeededLayer):
    """Inverted dropout while training (identity at inference). The mask comes from a counter-based
    generator keyed by (seed, step), so runs with the same seed are reproducible."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        if noise_shape is not None:
            raise NotImplementedError("Dropout: noise_shape is not supported yet")
        self.rate = float(rate)
        self._first_row = 0  # the place of the batch's first row in the whole batch (data parallelism)

    def forward(self, x, training):
        self._active = training and self.rate > 0
        if not self._active:
            return x
        self._mask = self.buffer("mask", x.shape, "uint8")
        y = self.buffer("y", x.shape)
        step_seed = (self._base_seed * 1_000_003 + self._calls) & 0xFFFFFFFFFFFFFFFF
        self._calls += 1
        _core.dropout_forward(y, self._mask, x, self.rate, step_seed, self._first_row * math.prod(x.shape[1:]))
        return y

    def backward(self, dy, need_dx):
        if not self._active:
            return dy
        dx = self.buffer("dx", dy.shape)
        _core.dropout_backward(dx, dy, self._mask, self.rate)
        return dx

    def engine_spec(self, offset_of):
        if self.rate == 0:
            return []
        s = _core.LayerSpec()
        s.kind, s.rate, s.seed = _core.LayerKind.dropout, self.rate, self._base_seed
        s.inputs = s.outputs = math.prod(self.input_shape)
        return [s]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class SpatialDropout2D(SeededLayer):
    """Dropout of whole channels: each sample's channels are kept (scaled by 1 / (1 - rate)) or
    zeroed across all positions, as Keras' SpatialDropout. Training only; the masks come from the
    layer's seeded counter sequence (numpy's generator, the Python path)."""
    rank = 2

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"{type(self).__name__}: rate must be in [0, 1), got {rate}")
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{type(self).__name__}: only data_format='channels_last' is supported")
        self.rate, self.data_format = float(rate), "channels_last"

    def sample_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 1:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects samples of rank {self.rank + 1} "
                             f"(positions..., channels), got {(None,) + tuple(input_shape)}")
        return tuple(input_shape)

    def forward(self, x, training):
        self._mask = None
        if not (training and self.rate > 0):
            return x
        rng = np.random.default_rng([self._base_seed, self._calls])
        self._calls += 1
        keep = rng.random((x.shape[0],) + (1,) * self.rank + (x.shape[-1],)) >= self.rate
        self._mask = (keep / (1.0 - self.rate)).astype(x.dtype)
        return x * self._mask

    def backward(self, dy, need_dx):
        return dy if self._mask is None else dy * self._mask

    def get_config(self):
        config = {**super().get_config(), "rate": self.rate, "data_format": self.data_format}
        del config["trainable"]  # (Keras' SpatialDropout takes no trainable argument)
        return config


class SpatialDropout1D(SpatialDropout2D):
    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, None, seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config
