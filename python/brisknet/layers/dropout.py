from __future__ import annotations

import math

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
