from __future__ import annotations

import math

from .. import _core, runtime
from .layer import Layer


class Dropout(Layer):
    """Inverted dropout while training (identity at inference). The mask comes from a counter-based
    generator keyed by (seed, step), so runs with the same seed are reproducible."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate}")
        if noise_shape is not None:
            raise NotImplementedError("Dropout: noise_shape is not supported yet")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"Dropout: seed must be an int or None, got {seed!r}")
        self.rate = float(rate)
        self.seed = seed
        self._calls = 0
        self._base_seed = None
        self._first_row = 0  # the place of the batch's first row in the whole batch (data parallelism)

    def build_sample(self, sample_shape):
        super().build_sample(sample_shape)
        # any int seed (as Keras), folded into the engine's 63-bit range; drawn once (a model's
        # rebuild keeps it)
        if self._base_seed is None:
            self._base_seed = self.seed % 2 ** 63 if self.seed is not None else runtime.draw_seed()

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
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

    def get_state(self):
        """Where the mask sequence stands, so training resumed from a file draws the same masks."""
        return {"base_seed": self._base_seed, "calls": self._calls}

    def set_state(self, state):
        # the seed and the count of masks drawn are the engine's 64-bit counters
        if set(state) != {"base_seed", "calls"} or \
                not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2 ** 63 for v in state.values()):
            raise ValueError(f"Dropout {self.name!r}: invalid state {state!r}")
        self._base_seed, self._calls = state["base_seed"], state["calls"]
