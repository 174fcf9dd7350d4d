"""Keras' noise layers, active only while training: GaussianNoise adds N(0, stddev) noise,
GaussianDropout multiplies by N(1, rate / (1 - rate)) noise. The noise of each call comes from a
generator keyed by (the layer's seed, the calls so far), so runs with a seed are reproducible and
a model file resumes the sequence."""
from __future__ import annotations

import numpy as np

from .seeded import SeededLayer


class _Noise(SeededLayer):
    _MASKING = True  # (Keras: supports_masking)
    elementwise = True
    def _draw(self, shape, dtype):
        rng = np.random.default_rng([self._base_seed, self._calls])
        self._calls += 1
        return rng.standard_normal(shape, dtype=np.float64).astype(dtype)


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
