"""Keras' noise layers, active only while training: GaussianNoise adds N(0, stddev) noise,
GaussianDropout multiplies by N(1, rate / (1 - rate)) noise. The noise of each call comes from a
generator keyed by (the layer's seed, the calls so far), so runs with a seed are reproducible and
a model file resumes the sequence."""
from __future__ import annotations

import numpy as np

from .. import runtime
from .layer import Layer


class _Noise(Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{type(self).__name__}: seed must be an int or None, got {seed!r}")
        self.seed = seed
        self._base_seed = None
        self._calls = 0

    def build_sample(self, sample_shape):
        super().build_sample(sample_shape)
        if self._base_seed is None:
            self._base_seed = self.seed % 2 ** 63 if self.seed is not None else runtime.draw_seed()

    def _draw(self, shape, dtype):
        rng = np.random.default_rng([self._base_seed, self._calls])
        self._calls += 1
        return rng.standard_normal(shape, dtype=np.float64).astype(dtype)

    def get_state(self):
        return {"base_seed": self._base_seed, "calls": self._calls}

    def set_state(self, state):
        if set(state) != {"base_seed", "calls"} or \
                not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2 ** 63 for v in state.values()):
            raise ValueError(f"{type(self).__name__} {self.name!r}: invalid state {state!r}")
        self._base_seed, self._calls = state["base_seed"], state["calls"]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class GaussianNoise(_Noise):
    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        if not (isinstance(stddev, (int, float)) and stddev >= 0):
            raise ValueError(f"GaussianNoise: stddev must be a number >= 0, got {stddev!r}")
        self.stddev = float(stddev)

    def forward(self, x, training):
        if not (training and self.stddev > 0):
            return x
        return x + self._draw(x.shape, x.dtype) * x.dtype.type(self.stddev)

    def backward(self, dy, need_dx):
        return dy

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(_Noise):
    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed, **kwargs)
        if not (isinstance(rate, (int, float)) and 0 <= rate < 1):
            raise ValueError(f"GaussianDropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def forward(self, x, training):
        self._noise = None
        if not (training and self.rate > 0):
            return x
        stddev = np.sqrt(self.rate / (1.0 - self.rate))
        self._noise = 1 + self._draw(x.shape, x.dtype) * x.dtype.type(stddev)
        return x * self._noise

    def backward(self, dy, need_dx):
        return dy if self._noise is None else dy * self._noise

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}
