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
    """Base class. Subclasses implement ``per_sample``; calling the loss reduces it like Keras."""

    name = "loss"
    is_crossentropy = False  # softmax + this loss can be fused on logits

    def __init__(self, reduction="sum_over_batch_size", name=None):
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

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        raise NotImplementedError

    def prepare_targets(self, y, units: int) -> np.ndarray:
        """y checked against an output of `units` columns and converted once, before training."""
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


class _Crossentropy(Loss):
    is_crossentropy = True

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(_Crossentropy):
    name = "sparse_categorical_crossentropy"

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

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
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

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.delta = float(delta)

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        return kernels.huber(y_true, y_pred, self.delta, sample_weight, return_grad, grad_scale)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


# Keras' functional forms: per-sample losses.
class LossFunctionWrapper(Loss):
    """A function ``fn(y_true, y_pred) -> per-sample losses`` (numpy) as a Loss. The slow path:
    fn runs in numpy on every batch, and the gradient with respect to the predictions is taken by
    central differences in float64 (2 calls of fn per output column)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name or getattr(fn, "__name__", "loss"))
        self.fn = fn

    def prepare_targets(self, y, units: int) -> np.ndarray:
        y = np.ascontiguousarray(kernels.as_array(y, "y"), dtype=np.float32)
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or Inf")
        return y

    def _values(self, y_true, y_pred):
        v = np.asarray(self.fn(y_true, y_pred), np.float64)
        if v.shape != (y_pred.shape[0],):
            raise ValueError(f"loss {self.name!r} returned shape {v.shape}; a loss function must return one "
                             f"value per sample, shape ({y_pred.shape[0]},)")
        return v

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
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
