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


def _broadcast_targets(y_true, y_pred):
    """y_true and y_pred as Keras 3's regression losses pair them: a trailing axis of 1 squeezed or
    added so the ranks match, then numpy broadcasting (a target of shape (n, 1) against every
    output; one output against several targets). Returns both, broadcast, and y_pred's shape."""
    t, p = kernels.as_array(y_true, "y_true"), kernels.as_array(y_pred, "y_pred")
    if t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        t = t[..., 0]
    elif p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        t = t[..., None]
    try:
        shape = np.broadcast_shapes(t.shape, p.shape)
    except ValueError:
        raise ValueError(f"y_true of shape {np.shape(y_true)} does not broadcast against y_pred of shape "
                         f"{np.shape(y_pred)}") from None
    if p.ndim == 0 or shape[0] != p.shape[0]:
        raise ValueError(f"y_true of shape {np.shape(y_true)} and y_pred of shape {np.shape(y_pred)} differ in "
                         "their number of samples")
    return np.broadcast_to(t, shape), np.broadcast_to(p, shape), p.shape


class _Regression(Loss):
    """Targets broadcast against the outputs as Keras broadcasts them (_broadcast_targets); in fit,
    a target of shape (n, 1) is broadcast against every output of the model (a target of shape
    (n,) only matches one output, as in Keras)."""

    def prepare_targets(self, y, units: int) -> np.ndarray:
        y = kernels.as_array(y, "y")
        if units > 1 and y.ndim == 2 and y.shape[1] == 1:
            y = np.broadcast_to(y, (y.shape[0], units))
        return super().prepare_targets(y, units)

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        t, p, pred_shape = _broadcast_targets(y_true, y_pred)
        shape = p.shape
        flat = p.ndim > 2 or shape != pred_shape  # (the kernels take (samples, values) of one shape)
        if flat:
            t, p = np.ascontiguousarray(t).reshape(shape[0], -1), np.ascontiguousarray(p).reshape(shape[0], -1)
        out = self._kernel(t, p, sample_weight, return_grad, grad_scale)
        if not return_grad:
            return out
        per, grad = out
        return per, _sum_to(grad.reshape(shape), pred_shape)


def _sum_to(grad, shape):
    """A gradient taken on a broadcast y_pred, summed back to y_pred's own shape."""
    if grad.shape == shape:
        return grad
    axes = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    return np.ascontiguousarray(grad.sum(axis=axes, keepdims=True).reshape(shape))


class MeanSquaredError(_Regression):
    name = "mean_squared_error"

    def _kernel(self, y_true, y_pred, sample_weight, return_grad, grad_scale):
        return kernels.mean_squared_error(y_true, y_pred, sample_weight, return_grad, grad_scale)


class MeanAbsoluteError(_Regression):
    name = "mean_absolute_error"

    def _kernel(self, y_true, y_pred, sample_weight, return_grad, grad_scale):
        return kernels.mean_absolute_error(y_true, y_pred, sample_weight, return_grad, grad_scale)


class Huber(_Regression):
    name = "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction)
        self.delta = float(delta)

    def _kernel(self, y_true, y_pred, sample_weight, return_grad, grad_scale):
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
    return MeanSquaredError().per_sample(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return MeanAbsoluteError().per_sample(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    return Huber(delta).per_sample(y_true, y_pred)
