from __future__ import annotations

import math

import numpy as np

from .. import _core
from .seeded import SeededLayer


class Dropout(SeededLayer):
    """Inverted dropout while training (identity at inference). The mask comes from a counter-based
    generator keyed by (seed, step), so runs with the same seed are reproducible."""
    _MASKING = True  # (Keras: supports_masking)
    elementwise = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        if noise_shape is not None and (not isinstance(noise_shape, (list, tuple)) or not all(
                d is None or (isinstance(d, int) and d > 0) for d in noise_shape)):
            raise ValueError(f"Dropout: noise_shape must be a tuple of positive ints or None, got {noise_shape!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self._first_row = 0  # the place of the batch's first row in the whole batch (data parallelism)

    def forward(self, x, training):
        self._active = training and self.rate > 0
        if not self._active:
            return x
        y = self.buffer("y", x.shape, x.dtype)
        step_seed = (self._base_seed * 1_000_003 + self._calls) & 0xFFFFFFFFFFFFFFFF
        self._calls += 1
        if self.noise_shape is None:
            self._mask = self.buffer("mask", x.shape, "uint8")
            self._draw(y, np.ascontiguousarray(x), step_seed)
            return y
        return self._draw_shaped(y, x, step_seed)

    def _draw_shaped(self, y, x, step_seed):
        """Dropout with Keras' noise_shape: one flag per element of that shape (None: the input's
        size there), broadcast over the input (EfficientNet's drop-connect: (None, 1, 1, 1))."""
        if len(self.noise_shape) != x.ndim:
            raise ValueError(f"layer {self.name!r} (Dropout): noise_shape {self.noise_shape} does not match inputs of "
                             f"shape {(None,) + x.shape[1:]}")
        shape = tuple(n if d is None else d for d, n in zip(self.noise_shape, x.shape))
        ones = self.buffer("ones", shape, x.dtype)
        ones.fill(1)
        self._kept = self.buffer("kept", shape, x.dtype)  # 0 or 1 / (1 - rate)
        _core.dropout_forward(self._kept, self.buffer("flags", shape, "uint8"), ones, self.rate, step_seed,
                              self._first_row * math.prod(shape[1:]))
        return np.multiply(x, self._kept, out=y)

    def _draw(self, y, x, step_seed):
        _core.dropout_forward(y, self._mask, x, self.rate, step_seed, self._first_row * math.prod(x.shape[1:]))

    def backward(self, dy, need_dx):
        if not self._active:
            return dy
        dx = self.buffer("dx", dy.shape, dy.dtype)
        if self.noise_shape is not None:
            return np.multiply(dy, self._kept, out=dx)
        _core.dropout_backward(dx, dy, self._mask, self.rate)
        return dx

    def engine_spec(self, offset_of):
        if self.rate == 0:
            return []
        if self.noise_shape is not None:
            return None  # (the Python path draws shaped noise)
        s = _core.LayerSpec()
        s.kind, s.rate, s.seed = _core.LayerKind.dropout, self.rate, self._base_seed
        s.inputs = s.outputs = math.prod(self.input_shape)
        return [s]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class SpatialDropout2D(Dropout):
    """Dropout of whole channels: each sample's channels are kept (scaled by 1 / (1 - rate)) or
    zeroed across all positions, as Keras' SpatialDropout. Training only; the flags come from
    Dropout's counter-based hash, one per (sample, channel), so the engine draws the same."""
    rank = 2
    elementwise = False

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"{type(self).__name__}: rate must be in [0, 1), got {rate}")
        super().__init__(rate, seed=seed, **kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{type(self).__name__}: only data_format='channels_last' is supported")
        self.data_format = "channels_last"

    def sample_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 1:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects samples of rank {self.rank + 1} "
                             f"(positions..., channels), got {(None,) + tuple(input_shape)}")
        return tuple(input_shape)

    def _draw(self, y, x, step_seed):
        _core.spatial_dropout_forward(y, self._mask, x, self.rate, step_seed, self._first_row)

    def engine_spec(self, offset_of):
        spec = super().engine_spec(offset_of)
        for s in spec:
            s.channels = self.input_shape[-1]
        return spec

    def get_config(self):
        config = {**super().get_config(), "data_format": self.data_format}
        del config["trainable"], config["noise_shape"]  # (Keras' SpatialDropout takes neither)
        return config


class SpatialDropout1D(SpatialDropout2D):
    rank = 1

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, None, seed, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config
