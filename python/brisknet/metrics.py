"""Stateful metrics with Keras names: update over batches, ``result()`` at the end of an epoch.

Each update is a sample-weighted mean, computed with numpy on the (batch, outputs) predictions.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Metric", "Mean", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "get"]


class Metric:
    name = "metric"

    def __init__(self, name=None):
        if name is not None:
            self.name = name
        self.reset_state()

    def reset_state(self):
        self._total = 0.0
        self._count = 0.0

    def _accumulate(self, values, sample_weight):
        values = np.asarray(values, np.float64).reshape(-1)
        if sample_weight is None:
            self.add_sums(float(values.sum()), values.size)
        else:
            w = np.asarray(sample_weight, np.float64).reshape(-1)
            self.add_sums(float((values * w).sum()), float(w.sum()))

    def add_sums(self, total, count):
        """Adds a batch already reduced to (sum of weighted values, sum of weights)."""
        self._total += total
        self._count += count

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._accumulate(self.values(np.asarray(y_true), np.asarray(y_pred)), sample_weight)

    def values(self, y_true, y_pred):
        raise NotImplementedError

    def result(self) -> float:
        return self._total / self._count if self._count else 0.0


class Mean(Metric):
    name = "mean"

    def update_state(self, values, sample_weight=None):
        self._accumulate(values, sample_weight)


def _labels(y_true):
    y = y_true.reshape(y_true.shape[0], -1)
    return y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1)


class SparseCategoricalAccuracy(Metric):
    name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        return (_labels(y_true) == y_pred.argmax(axis=-1)).astype(np.float64)


class CategoricalAccuracy(Metric):
    name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(np.float64)


class BinaryAccuracy(Metric):
    name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred):
        y_true = y_true.reshape(y_pred.shape)
        return ((y_pred > self.threshold) == (y_true > 0.5)).mean(axis=-1)


class Accuracy(Metric):
    """Exact equality of y_true and y_pred (Keras' `Accuracy` class, not the 'accuracy' string)."""
    name = "accuracy"

    def values(self, y_true, y_pred):
        return (y_true.reshape(y_pred.shape) == y_pred).astype(np.float64).reshape(y_pred.shape[0], -1).mean(axis=-1)


class MeanSquaredError(Metric):
    name = "mean_squared_error"

    def values(self, y_true, y_pred):
        d = y_pred.reshape(y_pred.shape[0], -1) - y_true.reshape(y_pred.shape[0], -1)
        return (d * d).mean(axis=-1)


class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        d = y_pred.reshape(y_pred.shape[0], -1) - y_true.reshape(y_pred.shape[0], -1)
        return np.abs(d).mean(axis=-1)


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}


def get(identifier, loss=None, units=None, sparse_targets=False) -> Metric:
    """A Metric from a name or instance. 'accuracy'/'acc' picks the variant Keras would pick for the
    loss and target layout, and keeps the name the user wrote (so History has 'accuracy')."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            loss_name = getattr(loss, "name", "")
            if loss_name == "binary_crossentropy" or units == 1:
                cls = BinaryAccuracy
            elif loss_name == "sparse_categorical_crossentropy" or sparse_targets:
                cls = SparseCategoricalAccuracy
            else:
                cls = CategoricalAccuracy
            return cls(name=identifier)
        if key in _BY_NAME:
            return _BY_NAME[key](name=identifier)
    raise ValueError(f"unknown metric {identifier!r}; known: {sorted(_BY_NAME) + ['accuracy']}")
