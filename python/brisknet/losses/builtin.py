"""The losses computed by the C++ kernels (per-sample values and gradient in one call): the
cross-entropies, MSE, MAE and Huber, as classes and as Keras' functional forms."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .base import Loss


def _no_label_smoothing(label_smoothing, who):
    if label_smoothing:
        raise NotImplementedError(f"{who}: label_smoothing is not supported")


class _Crossentropy(Loss):
    is_crossentropy = True

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        super().__init__(name=name, reduction=reduction)
        _no_label_smoothing(label_smoothing, type(self).__name__)
        if axis != -1:
            raise NotImplementedError(f"{type(self).__name__}: only axis=-1 is supported")
        self.from_logits = bool(from_logits)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(_Crossentropy):
    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        if ignore_class is not None:
            raise NotImplementedError("SparseCategoricalCrossentropy: ignore_class is not supported")
        super().__init__(from_logits, reduction=reduction, name=name)

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        fl = self.from_logits if from_logits is None else from_logits
        return kernels.sparse_categorical_crossentropy(y_true, y_pred, fl, sample_weight, return_grad, grad_scale)

    def prepare_targets(self, y, units: int) -> np.ndarray:
        y = kernels.as_array(y, "y")
        labels = kernels.sparse_labels(y, y.shape[0] if y.ndim else 0)
        if labels.size and (labels.min() < 0 or labels.max() >= units):
            bad = labels[(labels < 0) | (labels >= units)][0]
            raise ValueError(f"y: label {bad} is out of range for a model with {units} outputs "
                             f"(sparse_categorical_crossentropy expects labels in [0, {units}))")
        return labels


class CategoricalCrossentropy(_Crossentropy):
    name = "categorical_crossentropy"

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        fl = self.from_logits if from_logits is None else from_logits
        return kernels.categorical_crossentropy(y_true, y_pred, fl, sample_weight, return_grad, grad_scale)


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        super().__init__(name=name, reduction=reduction)
        _no_label_smoothing(label_smoothing, "BinaryCrossentropy")
        if axis != -1:
            raise NotImplementedError("BinaryCrossentropy: only axis=-1 is supported")
        self.from_logits = bool(from_logits)

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        fl = self.from_logits if from_logits is None else from_logits
        return kernels.binary_crossentropy(y_true, y_pred, fl, sample_weight, return_grad, grad_scale)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class _Regression(Loss):
    """As Keras, a regression target of shape (n, 1) is broadcast against every output of the model
    (a target of shape (n,) only matches one output, as in Keras)."""

    def prepare_targets(self, y, units: int) -> np.ndarray:
        y = kernels.as_array(y, "y")
        if units > 1 and y.ndim == 2 and y.shape[1] == 1:
            y = np.broadcast_to(y, (y.shape[0], units))
        return super().prepare_targets(y, units)


class MeanSquaredError(_Regression):
    name = "mean_squared_error"

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        return kernels.mean_squared_error(y_true, y_pred, sample_weight, return_grad, grad_scale)


class MeanAbsoluteError(_Regression):
    name = "mean_absolute_error"

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        return kernels.mean_absolute_error(y_true, y_pred, sample_weight, return_grad, grad_scale)


class Huber(_Regression):
    name = "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction)
        self.delta = float(delta)

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        return kernels.huber(y_true, y_pred, self.delta, sample_weight, return_grad, grad_scale)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}



# Keras' functional forms: per-sample losses.
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    return kernels.sparse_categorical_crossentropy(y_true, y_pred, from_logits)


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    return kernels.categorical_crossentropy(y_true, y_pred, from_logits)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    return kernels.binary_crossentropy(y_true, y_pred, from_logits)


def mean_squared_error(y_true, y_pred):
    return kernels.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return kernels.mean_absolute_error(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    return kernels.huber(y_true, y_pred, delta)
