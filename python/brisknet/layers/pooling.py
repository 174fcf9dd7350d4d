"""Global pooling over the steps (1D) or positions (2D) of channels_last samples: each channel's
mean or maximum. (The windowed pooling layers come with the convolutions.)"""
from __future__ import annotations

import numpy as np

from .layer import Layer


class _GlobalPooling(Layer):
    rank = None  # the sample's spatial rank: 1 (steps, channels) or 2 (rows, cols, channels)

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise NotImplementedError(f"{type(self).__name__}: only data_format='channels_last' is supported")
        self.data_format, self.keepdims = "channels_last", bool(keepdims)

    def sample_output_shape(self, input_shape):
        if len(input_shape) != self.rank + 1:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects samples of rank {self.rank + 1} "
                             f"(positions..., channels), got {(None,) + tuple(input_shape)}")
        return (1,) * self.rank + (input_shape[-1],) if self.keepdims else (input_shape[-1],)

    def _axes(self):
        return tuple(range(1, self.rank + 1))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class _GlobalAverage(_GlobalPooling):
    def forward(self, x, training):
        self._shape = x.shape
        return x.mean(axis=self._axes(), keepdims=self.keepdims)

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        count = np.prod(self._shape[1:-1])
        d = dy.reshape((dy.shape[0],) + (1,) * self.rank + (dy.shape[-1],)) / dy.dtype.type(count)
        return np.ascontiguousarray(np.broadcast_to(d, self._shape))


class _GlobalMax(_GlobalPooling):
    """The gradient goes to the first position holding each maximum."""

    def forward(self, x, training):
        self._shape = x.shape
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        self._argmax = flat.argmax(axis=1)
        y = np.take_along_axis(flat, self._argmax[:, None, :], axis=1)[:, 0, :]
        return y.reshape((x.shape[0],) + tuple(self.output_shape))

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        dx = np.zeros((self._shape[0], int(np.prod(self._shape[1:-1])), self._shape[-1]), dy.dtype)
        np.put_along_axis(dx, self._argmax[:, None, :], dy.reshape(dy.shape[0], 1, -1), axis=1)
        return dx.reshape(self._shape)


class GlobalAveragePooling1D(_GlobalAverage):
    rank = 1


class GlobalAveragePooling2D(_GlobalAverage):
    rank = 2


class GlobalMaxPooling1D(_GlobalMax):
    rank = 1


class GlobalMaxPooling2D(_GlobalMax):
    rank = 2
