"""Pooling over the steps (1D) or positions (2D) of channels_last samples: windows sliding over
them (MaxPooling, AveragePooling: C++ kernels, the max's position kept for backward) and global
pooling (one window over all positions: each channel's mean or maximum)."""
from __future__ import annotations

import math

import numpy as np

from .. import _core
from .convolutional import as_tuple, check_padding, window_geometry
from .layer import Layer


class _Pooling(Layer):
    rank = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        who = type(self).__name__
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{who}: only data_format='channels_last' is supported")
        self.pool_size = as_tuple(pool_size, self.rank, "pool_size", who)
        self.strides = self.pool_size if strides is None else as_tuple(strides, self.rank, "strides", who)
        self.padding = check_padding(padding, who)
        self.data_format = "channels_last"

    def _geometry(self, sample_shape):
        who = f"{type(self).__name__} {self.name!r}"
        if len(sample_shape) != self.rank + 1:
            raise ValueError(f"{who} expects samples of rank {self.rank + 1} (positions..., channels), got "
                             f"{(None,) + tuple(sample_shape)}")
        image = (1,) + tuple(sample_shape) if self.rank == 1 else tuple(sample_shape)
        kernel, strides = ((1,) + t if self.rank == 1 else t for t in (self.pool_size, self.strides))
        out, pad = zip(*(window_geometry(image[a], kernel[a], strides[a], 1, self.padding) for a in (0, 1)))
        if min(out) < 1:
            raise ValueError(f"{who}: the window {self.pool_size} is larger than the input {tuple(sample_shape[:-1])} "
                             "with padding='valid'")
        return image, kernel, strides, pad, out

    def sample_output_shape(self, input_shape):
        image, _, _, _, out = self._geometry(input_shape)
        return (out[1], image[2]) if self.rank == 1 else (out[0], out[1], image[2])

    def forward(self, x, training):
        image, kernel, strides, pad, out = self._geometry(self.input_shape)
        self._x4 = np.ascontiguousarray(x).reshape((x.shape[0],) + image)
        y = self.buffer("y", (x.shape[0],) + tuple(self.output_shape), x.dtype)
        self._argmax = self.buffer("argmax", y.shape, np.int32) if self.takes_max else None
        _core.pool_forward(y.reshape((x.shape[0], out[0], out[1], image[2])), self._argmax, self._x4, kernel, strides,
                           pad, out)
        return y

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        image, kernel, strides, pad, out = self._geometry(self.input_shape)
        dx = self.buffer("dx", self._x4.shape, dy.dtype)
        _core.pool_backward(dx, np.ascontiguousarray(dy).reshape((dy.shape[0], out[0], out[1], image[2])),
                            self._argmax, kernel, strides, pad, out)
        return dx.reshape((dy.shape[0],) + tuple(self.input_shape))

    def engine_spec(self, offset_of):
        image, kernel, strides, pad, out = self._geometry(self.input_shape)
        s = _core.LayerSpec()
        s.kind = _core.LayerKind.max_pool if self.takes_max else _core.LayerKind.avg_pool
        s.inputs, s.outputs = math.prod(image), out[0] * out[1] * image[2]
        s.window = image + kernel + strides + (1, 1) + pad + out
        return [s]

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(_Pooling):
    rank, takes_max = 2, True


class MaxPooling1D(_Pooling):
    rank, takes_max = 1, True


class AveragePooling2D(_Pooling):
    """The mean over each window's positions inside the input (padding is not counted)."""
    rank, takes_max = 2, False


class AveragePooling1D(_Pooling):
    rank, takes_max = 1, False


class _GlobalPooling(_Pooling):
    """The windowed pooling with one window over all of a sample's positions (the same kernels,
    so the engine runs it too): each channel's mean, or its maximum (the gradient going to the
    first position holding it)."""
    rank = None  # the sample's spatial rank: 1 (steps, channels) or 2 (rows, cols, channels)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        Layer.__init__(self, **kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{type(self).__name__}: only data_format='channels_last' is supported")
        self.data_format, self.keepdims = "channels_last", bool(keepdims)

    def _geometry(self, sample_shape):
        if len(sample_shape) != self.rank + 1:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects samples of rank {self.rank + 1} "
                             f"(positions..., channels), got {(None,) + tuple(sample_shape)}")
        image = (1,) + tuple(sample_shape) if self.rank == 1 else tuple(sample_shape)
        return image, image[:2], (1, 1), (0, 0), (1, 1)

    def sample_output_shape(self, input_shape):
        channels = self._geometry(input_shape)[0][2]
        return (1,) * self.rank + (channels,) if self.keepdims else (channels,)

    def get_config(self):
        return {**Layer.get_config(self), "data_format": self.data_format, "keepdims": self.keepdims}


class _GlobalAverage(_GlobalPooling):
    takes_max = False


class _GlobalMax(_GlobalPooling):
    takes_max = True


class GlobalAveragePooling1D(_GlobalAverage):
    """The mean over the steps; with a mask (layers/masking.py), over the steps kept, as Keras."""
    rank = 1
    _TAKES_MASK = True

    def compute_mask(self, inputs, mask=None):
        return None

    def forward(self, x, training, mask=None):
        self._kept = None
        if mask is None:
            return super().forward(x, training)
        kept = np.asarray(mask, x.dtype)[:, :, None]
        self._kept = kept / kept.sum(axis=1, keepdims=True)  # (a sample with no step kept: NaN, as Keras)
        y = np.einsum("bsc,bsk->bc", x, self._kept)
        return y[:, None, :] if self.keepdims else y

    def backward(self, dy, need_dx):
        if self._kept is None:
            return super().backward(dy, need_dx)
        if not need_dx:
            return None
        dy = dy.reshape(dy.shape[0], 1, -1)
        return (dy * self._kept).astype(dy.dtype, copy=False)


class GlobalAveragePooling2D(_GlobalAverage):
    rank = 2


class GlobalMaxPooling1D(_GlobalMax):
    rank = 1


class GlobalMaxPooling2D(_GlobalMax):
    rank = 2
