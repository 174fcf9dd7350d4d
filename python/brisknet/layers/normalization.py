"""Keras' preprocessing layers for dense models: Normalization (feature-wise standardisation with
statistics from adapt(), or given) and Rescaling (x * scale + offset). Their weights, if any, are
never trained."""
from __future__ import annotations

import numpy as np

import math

from .. import _core, initializers
from .layer import Layer

EPSILON = 1e-7  # Keras' backend epsilon: the smallest standard deviation divided by


class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), 1e-7)`` per feature along `axis` (the last), as Keras:
    mean and variance given, or learned by ``adapt(data)`` (then they are the layer's non-trainable
    weights mean, variance and count). invert=True undoes the normalisation."""
    _MASKING = True  # (Keras: supports_masking)
    weights_trainable = False
    integer_weights = ("count",)  # an int32 in Keras' files

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1, [-1], (-1,)):
            raise NotImplementedError(f"Normalization: only axis=-1 is supported, got {axis!r}")
        if (mean is None) != (variance is None):
            raise ValueError("Normalization: give both mean and variance, or neither (and call adapt)")
        self.axis, self.invert = -1, bool(invert)
        self._given = None  # (mean, variance) when given rather than adapted
        if mean is not None:
            m, v = np.asarray(mean, np.float64), np.asarray(variance, np.float64)
            if m.shape != v.shape or m.ndim > 1 or not (np.all(np.isfinite(m)) and np.all(np.isfinite(v))) \
                    or np.any(v < 0):
                raise ValueError("Normalization: mean and variance must be finite scalars or vectors of one "
                                 "shape, variance >= 0")
            self._given = (m, v)

    def weight_specs(self):
        if self._given is not None:
            return []
        n = self.input_shape[-1]
        return [("mean", (n,), initializers.Zeros()), ("variance", (n,), initializers.Ones()),
                ("count", (), initializers.Zeros())]

    @property
    def mean(self):
        """The mean as Keras shows it: shaped to broadcast against a batch, (1, features)."""
        return np.asarray(self._stats()[0]).reshape(1, -1)

    @property
    def variance(self):
        return np.asarray(self._stats()[1]).reshape(1, -1)

    def _stats(self):
        if self._given is not None:
            return self._given[0].astype(np.float32), self._given[1].astype(np.float32)
        return self._weights[0], self._weights[1]

    def adapt(self, data, batch_size=None, steps=None):
        """The mean and variance of each feature over all samples of `data` (float64 sums)."""
        x = np.asarray(data)
        if x.dtype.kind not in "biuf":
            raise TypeError(f"Normalization.adapt: expected numbers, got dtype {x.dtype}")
        if x.ndim < 2 or x.shape[0] == 0:
            raise ValueError(f"Normalization.adapt: expected a batch (samples, features...), got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("Normalization.adapt: data contains NaN or Inf")
        if self._given is not None:
            raise ValueError("Normalization: mean and variance were given; adapt() would replace them")
        if not self.built or not self._weights:
            self.build((None,) + x.shape[1:])
        elif tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"Normalization.adapt: built for samples of shape {self.input_shape}, got {x.shape[1:]}")
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        self._weights[0][...] = flat.mean(axis=0)
        self._weights[1][...] = flat.var(axis=0)
        self._weights[2][...] = flat.shape[0]

    def forward(self, x, training):
        mean, var = self._stats()
        self._scale = np.maximum(np.sqrt(var), np.float32(EPSILON))
        y = self.buffer("y", x.shape)
        if self.invert:
            np.multiply(x, self._scale, out=y)
            y += mean
        else:
            np.subtract(x, mean, out=y)
            y /= self._scale
        return y

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        dx = self.buffer("dx", dy.shape)
        if self.invert:
            np.multiply(dy, self._scale, out=dx)
        else:
            np.divide(dy, self._scale, out=dx)
        return dx

    def engine_spec(self, offset_of):
        mean, var = self._stats()
        scale = np.maximum(np.sqrt(var), np.float32(EPSILON))
        return _affine_spec(self.input_shape, not self.invert, scale, mean)

    def get_config(self):
        mean, var = (None, None) if self._given is None else (self._given[0].tolist(), self._given[1].tolist())
        return {**super().get_config(), "axis": [-1], "invert": self.invert, "mean": mean, "variance": var}


class Rescaling(Layer):
    """``x * scale + offset`` (scale and offset numbers, or one value per feature)."""
    _MASKING = True  # (Keras: supports_masking)
    elementwise = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = scale, offset
        self._scale = np.asarray(scale, np.float32)
        self._offset = np.asarray(offset, np.float32)
        if self._scale.ndim > 1 or self._offset.ndim > 1 or not np.all(np.isfinite(self._scale)) \
                or not np.all(np.isfinite(self._offset)):
            raise ValueError("Rescaling: scale and offset must be finite numbers or vectors")

    def forward(self, x, training):
        y = self.buffer("y", x.shape)
        np.multiply(x, self._scale, out=y)
        y += self._offset
        return y

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        dx = self.buffer("dx", dy.shape)
        np.multiply(dy, self._scale, out=dx)
        return dx

    def engine_spec(self, offset_of):
        return _affine_spec(self.input_shape, False, self._scale, self._offset)

    def get_config(self):
        def plain(v):
            return np.asarray(v).tolist()
        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}


def _affine_spec(sample_shape, divide, scale, shift):
    """The engine's per-feature affine layer, or None where numpy's broadcasting is other than
    one value (or one per feature of the last axis)."""
    features = sample_shape[-1]
    try:
        scale = np.broadcast_to(np.asarray(scale, np.float32), (features,))
        shift = np.broadcast_to(np.asarray(shift, np.float32), (features,))
    except ValueError:
        return None
    s = _core.LayerSpec()
    s.kind, s.divide = _core.LayerKind.affine, divide
    s.inputs = s.outputs = math.prod(sample_shape)
    s.scale, s.shift = scale.tolist(), shift.tolist()
    return [s]
