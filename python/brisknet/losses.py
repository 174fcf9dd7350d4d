"""Losses by Keras name and class. Each computes per-sample values (and the gradient) in C++.

Reduction is Keras' default "sum_over_batch_size": sum(sample_weight * loss) / batch_size.
"""
from __future__ import annotations

import numpy as np

from . import kernels

__all__ = ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "Huber", "sparse_categorical_crossentropy",
           "categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
           "mean_absolute_error", "huber", "get"]


class Loss:
    """Base class, as Keras': calling the loss reduces its per-sample values (sum_over_batch_size:
    sum(w * loss) / batch size). Built-in losses compute per-sample values and their gradient in
    C++ (``per_sample``). A subclass written as in the Keras guide overrides ``call(y_true,
    y_pred)`` (numpy in, one value per sample out) and trains on the slow path: its gradient with
    respect to the predictions is taken by central differences."""

    name = "loss"
    is_crossentropy = False  # softmax + this loss can be fused on logits

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in ("sum_over_batch_size", "sum", "none", None):
            raise ValueError(f"unknown reduction {reduction!r}")
        self.reduction = reduction
        if name is not None:
            self.name = name

    def __call__(self, y_true, y_pred, sample_weight=None):
        per = self.per_sample(y_true, y_pred, sample_weight)
        if self.reduction in ("none", None):
            return per
        total = float(np.sum(per, dtype=np.float64))
        return total if self.reduction == "sum" else total / max(1, per.shape[0])

    def call(self, y_true, y_pred):
        """Per-sample losses (no weights, no reduction)."""
        return self.per_sample(y_true, y_pred)

    def _is_custom(self) -> bool:
        return type(self).call is not Loss.call

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        """Per-sample losses times the sample weights (and, with return_grad, their gradient with
        respect to y_pred times grad_scale). Here: from ``call``, the gradient by central
        differences in float64 (2 calls per output column); built-in losses override this."""
        if not self._is_custom():
            raise NotImplementedError(f"{type(self).__name__} must override call(y_true, y_pred)")
        pred = np.asarray(y_pred, np.float64)
        w = np.ones(pred.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(-1)
        per = (self._values(y_true, pred) * w).astype(np.float32)
        if not return_grad:
            return per
        flat = pred.reshape(pred.shape[0], -1)
        grad = np.empty_like(flat)
        for j in range(flat.shape[1]):
            h = 1e-4 * (1.0 + np.abs(flat[:, j]))
            plus, minus = flat.copy(), flat.copy()
            plus[:, j] += h
            minus[:, j] -= h
            grad[:, j] = (self._values(y_true, plus.reshape(pred.shape)) -
                          self._values(y_true, minus.reshape(pred.shape))) / (2 * h)
        grad *= w[:, None] * grad_scale
        return per, grad.reshape(pred.shape).astype(np.float32)

    def _values(self, y_true, y_pred):
        v = np.asarray(self.call(y_true, y_pred), np.float64)
        if v.shape != (y_pred.shape[0],):
            raise ValueError(f"loss {self.name!r} returned shape {v.shape}; a loss must return one value per "
                             f"sample, shape ({y_pred.shape[0]},)")
        return v

    def prepare_targets(self, y, units: int) -> np.ndarray:
        """y checked against an output of `units` columns and converted once, before training
        (a custom loss gets y as given, in float32)."""
        if self._is_custom():
            y = np.ascontiguousarray(kernels.as_array(y, "y"), dtype=np.float32)
            if not np.all(np.isfinite(y)):
                raise ValueError("y contains NaN or Inf")
            return y
        y = kernels.as_array(y, "y")
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[1] != units:
            raise ValueError(f"{self.name}: y has shape {y.shape} but the model outputs {units} values per sample")
        y = np.ascontiguousarray(y, dtype=np.float32)
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or Inf")
        return y

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


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
class LossFunctionWrapper(Loss):
    """A function ``fn(y_true, y_pred) -> per-sample losses`` (numpy) as a Loss: the slow path of
    a custom loss (see Loss)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)

    def get_config(self):
        raise ValueError(f"loss {self.name!r} is a Python function and cannot be saved; pass compile=False "
                         "to load_model and compile again")


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


_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
}
_FUNCTIONS = {sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy, binary_crossentropy: BinaryCrossentropy,
              mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError, huber: Huber}


def get(identifier) -> Loss:
    """A Loss from a Keras name, a Loss instance or class, one of this module's functions, or any
    function fn(y_true, y_pred) -> per-sample losses (LossFunctionWrapper, the slow path)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(identifier) and not isinstance(identifier, type):
        return LossFunctionWrapper(identifier)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"unknown loss {identifier!r}; known: {sorted(_BY_NAME)}")
