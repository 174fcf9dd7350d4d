"""Keras' reshaping layers for channels_last images (rows, cols, channels): ZeroPadding2D,
Cropping2D, UpSampling2D (nearest). Values are moved or repeated, never computed; backward moves
(or sums, in C++: the engine's order) the gradient back. The engine runs all three."""
from __future__ import annotations

import numpy as np

from .. import _core
from .convolutional import as_tuple
from .layer import Layer


def _pairs(value, who, what, allow_zero=True):
    """An int, two ints, or two pairs of ints, as ((top, bottom), (left, right))."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = ((value, value), (value, value))
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
        value = ((value[0], value[0]), (value[1], value[1]))
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= (0 if allow_zero else 1) for v in p)
        for p in value)
    if not ok:
        raise ValueError(f"{who}: {what} must be an int, 2 ints or 2 pairs of ints, got {value!r}")
    return tuple(tuple(int(v) for v in p) for p in value)


class _Image(Layer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{type(self).__name__}: only data_format='channels_last' is supported")
        self.data_format = "channels_last"

    def _check(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects samples of shape (rows, cols, channels), "
                             f"got {(None,) + tuple(input_shape)}")

    def _spec(self, kind, strides=(1, 1), offset=(0, 0)):
        """The engine's spec: window (h, w, c, 1, 1, strides, 1, 1, offset, oh, ow)."""
        s = _core.LayerSpec()
        s.kind, s.inputs, s.outputs = kind, int(np.prod(self.input_shape)), int(np.prod(self.output_shape))
        s.window = tuple(self.input_shape) + (1, 1) + tuple(strides) + (1, 1) + tuple(offset) + \
            tuple(self.output_shape[:2])
        return [s]


class ZeroPadding2D(_Image):
    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.padding = _pairs(padding, "ZeroPadding2D", "padding")

    def sample_output_shape(self, input_shape):
        self._check(input_shape)
        (t, b), (l, r) = self.padding
        return (input_shape[0] + t + b, input_shape[1] + l + r, input_shape[2])

    def _inside(self):
        (t, _), (l, _) = self.padding
        h, w, _ = self.input_shape
        return slice(None), slice(t, t + h), slice(l, l + w)

    def forward(self, x, training):
        y = self.buffer("y", (x.shape[0],) + tuple(self.output_shape), x.dtype)
        y.fill(0)
        y[self._inside()] = x
        return y

    def backward(self, dy, need_dx):
        return np.ascontiguousarray(dy[self._inside()]) if need_dx else None

    def engine_spec(self, offset_of):
        return self._spec(_core.LayerKind.shift, offset=(self.padding[0][0], self.padding[1][0]))

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding], "data_format": self.data_format}


class Cropping2D(_Image):
    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.cropping = _pairs(cropping, "Cropping2D", "cropping")

    def sample_output_shape(self, input_shape):
        self._check(input_shape)
        (t, b), (l, r) = self.cropping
        out = (input_shape[0] - t - b, input_shape[1] - l - r, input_shape[2])
        if min(out[:2]) < 1:
            raise ValueError(f"Cropping2D {self.name!r}: cropping {self.cropping} leaves nothing of "
                             f"{(None,) + tuple(input_shape)}")
        return out

    def _kept(self):
        (t, _), (l, _) = self.cropping
        h, w, _ = self.output_shape
        return slice(None), slice(t, t + h), slice(l, l + w)

    def forward(self, x, training):
        return np.ascontiguousarray(x[self._kept()])

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        dx = self.buffer("dx", (dy.shape[0],) + tuple(self.input_shape), dy.dtype)
        dx.fill(0)
        dx[self._kept()] = dy
        return dx

    def engine_spec(self, offset_of):
        return self._spec(_core.LayerKind.shift, offset=(-self.cropping[0][0], -self.cropping[1][0]))

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping], "data_format": self.data_format}


class UpSampling2D(_Image):
    """Each row repeated size[0] times and each column size[1] times (nearest)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(data_format, **kwargs)
        if interpolation != "nearest":
            raise NotImplementedError(f"UpSampling2D: only interpolation='nearest' is supported, got {interpolation!r}")
        self.size = as_tuple(size, 2, "size", "UpSampling2D")
        self.interpolation = interpolation

    def sample_output_shape(self, input_shape):
        self._check(input_shape)
        return (input_shape[0] * self.size[0], input_shape[1] * self.size[1], input_shape[2])

    def forward(self, x, training):
        return np.ascontiguousarray(np.repeat(np.repeat(x, self.size[0], axis=1), self.size[1], axis=2))

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        dx = self.buffer("dx", (dy.shape[0],) + tuple(self.input_shape), dy.dtype)
        _core.upsample(dx, np.ascontiguousarray(dy), *self.size, backward=True)  # (the copies summed in order)
        return dx

    def engine_spec(self, offset_of):
        return self._spec(_core.LayerKind.upsample, strides=self.size)

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}
