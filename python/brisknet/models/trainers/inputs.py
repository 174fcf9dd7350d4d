"""Checking and converting what fit/evaluate/predict are given: arrays, targets, sample and class
weights, dataset batches; the rows of a batch gathered into a reused buffer."""
from __future__ import annotations

import numpy as np

from ... import kernels
from ...layers import unknown_dims
from ...losses import positions
from .. import batches as batches_module


class Inputs:
    def _prepare_x(self, x, what="x") -> np.ndarray:
        if x is None:
            raise ValueError(f"{what} is required")
        x = kernels.as_array(x, what)
        if x.ndim < 2:
            raise ValueError(f"{what} must have a batch dimension: expected (samples, features...), got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"{what} is empty (0 samples)")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(x).all():
            raise ValueError(f"{what} contains NaN or Inf")
        if not self.built:
            self.build((None,) + x.shape[1:])
        else:
            self._check_sample_shape(x, what)
        return x

    def _check_sample_shape(self, x, what):
        if not unknown_dims.matches(self._input_shape, x.shape[1:]):
            raise ValueError(f"{what} has samples of shape {x.shape[1:]}, but the model expects "
                             f"{tuple(self._input_shape)}")
        self._fit_to_samples(x.shape[1:])

    def _prepare_xy(self, x, y, sample_weight=None, class_weight=None, what=""):
        x = self._prepare_x(x, what + "x")
        if y is None:
            raise ValueError(f"{what}y is required")
        y_arr = kernels.as_array(y, what + "y")
        if y_arr.ndim == 0 or y_arr.shape[0] != x.shape[0]:
            raise ValueError(f"{what}x and {what}y have different numbers of samples: x has {x.shape[0]}, "
                             f"y has shape {y_arr.shape}")
        out_shape = self._output_sample_shape
        if self.loss is not None:
            y_arr = positions.prepare_targets(self.loss, y_arr, out_shape, what + "y")
        if class_weight is not None and len(out_shape) > 1:
            raise ValueError("class_weight is not supported for outputs of several positions per sample (a sequence); "
                             "give sample_weight of shape (samples, steps) instead")
        sw = positions.check_sample_weight(self._sample_weights(sample_weight, class_weight, y_arr, x.shape[0]),
                                           out_shape)
        return x, y_arr, sw

    @staticmethod
    def _sample_weights(sample_weight, class_weight, y, n):
        if sample_weight is not None and class_weight is not None:
            raise ValueError("You cannot use class_weight and sample_weight at the same time")
        if sample_weight is not None:
            sw = kernels.as_array(sample_weight, "sample_weight").astype(np.float32)
            if sw.ndim == 0 or sw.shape[0] != n:
                raise ValueError(f"sample_weight has shape {sw.shape} for {n} samples")
            if sw.ndim == 2 and sw.shape[1] == 1 or sw.ndim == 1:
                sw = sw.reshape(-1)
            if not np.isfinite(sw).all() or (sw < 0).any():
                raise ValueError("sample_weight must be finite and >= 0")
            return np.ascontiguousarray(sw)
        if class_weight is not None:
            if not isinstance(class_weight, dict):
                raise TypeError("class_weight must be a dict {class index: weight}")
            labels = y if y.ndim == 1 else (y.argmax(axis=1) if y.shape[1] > 1 else (y[:, 0] > 0.5))
            labels = labels.astype(np.int64)
            sw = np.ones(n, np.float32)
            for cls, w in class_weight.items():
                sw[labels == int(cls)] = float(w)
            return sw
        return None

    def _prepare_batch(self, batch, class_weight=None, what="batch", need_y=True):
        x, y, sw = batches_module.unpack(batch, what)
        if not need_y:
            return self._prepare_x(x, what + " x"), None, None
        if y is None:
            raise ValueError(f"{what}: the batch has no targets (expected (x, y) or (x, y, sample_weight))")
        return self._prepare_xy(x, y, sw, class_weight, what=what + " ")

    def _batch(self, x, y, sw, idx):
        """Rows idx of x (gathered into a reused buffer), y and sample weights."""
        b = idx.shape[0]
        key = (b,) + x.shape[1:]
        buf = self._gather.get(key)
        if buf is None:
            buf = self._gather[key] = np.empty(key, np.float32)
        np.take(x, idx, axis=0, out=buf)
        return buf, y[idx], (sw[idx] if sw is not None else None)
