"""Stateful metrics with Keras names: update over batches, ``result()`` at the end of an epoch.

Most are a (sample-weighted) mean of per-sample values; Precision, Recall and AUC keep confusion
counts. All run with numpy on the (batch, outputs) predictions. A plain function
``fn(y_true, y_pred) -> per-sample values`` works as a metric too (MeanMetricWrapper), named after
the function. As in Keras 3, compile(metrics=...) ignores sample weights and
compile(weighted_metrics=...) applies them.

A Metric subclass written as in the Keras guide works too: variables from ``self.add_variable``
(or ``add_weight``) in ``__init__``, then ``update_state``, ``result`` and ``reset_state``.
"""
from __future__ import annotations

import numpy as np

from . import autodiff, initializers, kernels
from .variables import Variable
from .losses import numpy_losses

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError", "Precision", "Recall", "AUC",
           "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge", "SquaredHinge", "CategoricalHinge",
           "KLDivergence", "Poisson", "LogCoshError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
           "CosineSimilarity", "FBetaScore", "F1Score", "R2Score", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "get"]


class Metric:
    name = "metric"
    weighted = False  # whether the trainer passes sample weights (compile's weighted_metrics)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "update_state" in cls.__dict__:  # called on traced tensors (in compute_loss): after the forward pass
            cls.update_state = autodiff.after_forward(cls.__dict__["update_state"])

    def __init__(self, name=None, dtype=None):
        if name is not None:
            self.name = name
        self._variables = []
        self._init_state()

    def _init_state(self):
        """The built-in metrics' running sums (a user's subclass keeps its state in variables)."""
        self._total = 0.0
        self._count = 0.0

    def reset_state(self):
        self._init_state()
        for v in self._variables:
            v.assign(v.initial_value)

    # ---------------------------------------------------------------- Keras' variable API
    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A state variable, reset to its initial value by reset_state()."""
        init = initializers.get(initializer if initializer is not None else "zeros")
        value = np.asarray(init(tuple(shape), np.dtype(dtype or "float32")))
        v = Variable.holding(np.array(value, copy=True), name or f"variable_{len(self._variables)}",
                             owner=self.name)
        v.initial_value = value
        self._variables.append(v)
        return v

    def add_weight(self, name=None, shape=(), initializer="zeros", dtype=None, aggregation="sum"):
        return self.add_variable(shape, initializer, dtype, aggregation, name)

    @property
    def variables(self) -> list:
        return list(self._variables)

    def __call__(self, *args, **kwargs):
        """update_state, then result (as Keras' metric.__call__)."""
        self.update_state(*args, **kwargs)
        return self.result()

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

    @autodiff.after_forward
    def update_state(self, y_true, y_pred, sample_weight=None):
        self._accumulate(self.values(np.asarray(y_true), np.asarray(y_pred)), sample_weight)

    def values(self, y_true, y_pred):
        raise NotImplementedError

    def result(self) -> float:
        return self._total / self._count if self._count else 0.0

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Mean(Metric):
    name = "mean"

    def update_state(self, values, sample_weight=None):
        self._accumulate(values, sample_weight)


class Sum(Metric):
    name = "sum"

    def update_state(self, values, sample_weight=None):
        self._accumulate(values, sample_weight)

    def result(self):
        return self._total


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

    def __init__(self, name=None, dtype=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name, dtype)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}

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


class TopKCategoricalAccuracy(Metric):
    """1 when the true class (argmax of one-hot y_true) is among the k highest predictions (ties
    count in its favour, as tf.math.in_top_k)."""
    name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None):
        self.k = int(k)
        super().__init__(name, dtype)

    def _hits(self, labels, y_pred):
        y_pred = y_pred.reshape(y_pred.shape[0], -1)
        true_score = y_pred[np.arange(y_pred.shape[0]), labels]
        return ((y_pred > true_score[:, None]).sum(axis=1) < self.k).astype(np.float64)

    def values(self, y_true, y_pred):
        return self._hits(y_true.reshape(y_true.shape[0], -1).argmax(axis=1), y_pred)

    def get_config(self):
        return {"name": self.name, "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    name = "sparse_top_k_categorical_accuracy"

    def values(self, y_true, y_pred):
        return self._hits(y_true.reshape(-1).astype(np.int64), y_pred)


class RootMeanSquaredError(Metric):
    """sqrt of the mean squared error over every output of every sample."""
    name = "root_mean_squared_error"

    def values(self, y_true, y_pred):
        d = y_pred.reshape(y_pred.shape[0], -1) - y_true.reshape(y_pred.shape[0], -1)
        return (d * d).mean(axis=-1)

    def result(self):
        return float(np.sqrt(super().result()))


def _binary_targets(y_true, y_pred):
    """y_true as 0/1 of y_pred's shape: sparse labels of a multi-class output become one-hot."""
    y_pred = y_pred.reshape(y_pred.shape[0], -1)
    y_true = np.asarray(y_true)
    if y_true.size == y_pred.shape[0] and y_pred.shape[1] > 1:
        y_true = np.eye(y_pred.shape[1])[y_true.reshape(-1).astype(np.int64)]
    return y_true.reshape(y_pred.shape) > 0.5, y_pred


class _ConfusionMetric(Metric):
    """Counts of true/false positives/negatives of `y_pred > threshold` over every output, each
    sample counted with its weight; `thresholds` one value (results are floats) or a list (results
    are arrays, one per threshold), as Keras."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        self._many = isinstance(thresholds, (list, tuple, np.ndarray))
        self.thresholds = (list(map(float, thresholds)) if self._many else
                           0.5 if thresholds is None else float(thresholds))
        if any(not 0 <= t <= 1 for t in np.atleast_1d(self.thresholds)):
            raise ValueError(f"{type(self).__name__}: thresholds must be in [0, 1], got {thresholds!r}")
        super().__init__(name, dtype)

    def _init_state(self):
        n = len(self.thresholds) if self._many else 1
        self.tp, self.fp, self.tn, self.fn = (np.zeros(n) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None):
        truth, y_pred = _binary_targets(y_true, np.asarray(y_pred))
        w = np.ones(y_pred.shape) if sample_weight is None else \
            np.broadcast_to(np.asarray(sample_weight, np.float64).reshape(-1, 1), y_pred.shape)
        for i, t in enumerate(np.atleast_1d(self.thresholds)):
            pred = y_pred > t
            self.tp[i] += float(w[pred & truth].sum())
            self.fp[i] += float(w[pred & ~truth].sum())
            self.tn[i] += float(w[~pred & ~truth].sum())
            self.fn[i] += float(w[~pred & truth].sum())

    def _out(self, values):
        return values.copy() if self._many else float(values[0])

    def add_sums(self, total, count):
        raise TypeError(f"{type(self).__name__} keeps confusion counts, not sums")

    def get_config(self):
        return {"name": self.name, "thresholds": self.thresholds}


def _ratio(a, b):
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


class Precision(_ConfusionMetric):
    name = "precision"

    def result(self):
        return self._out(_ratio(self.tp, self.tp + self.fp))


class Recall(_ConfusionMetric):
    name = "recall"

    def result(self):
        return self._out(_ratio(self.tp, self.tp + self.fn))


class _Count(_ConfusionMetric):
    """One of the four counts (`_count`: tp, fp, tn or fn)."""
    _count = "tp"

    def result(self):
        return self._out(getattr(self, self._count))


class TruePositives(_Count):
    name, _count = "true_positives", "tp"


class FalsePositives(_Count):
    name, _count = "false_positives", "fp"


class TrueNegatives(_Count):
    name, _count = "true_negatives", "tn"


class FalseNegatives(_Count):
    name, _count = "false_negatives", "fn"


class AUC(Metric):
    """Area under the ROC (or precision-recall) curve from confusion counts at `num_thresholds`
    thresholds spread over [0, 1], as Keras computes it: ROC by the trapezoid rule, PR with
    Davis & Goadrich's interpolation. Predictions are probabilities, or logits with from_logits=True
    (a sigmoid is applied first)."""
    name = "auc"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        if summation_method != "interpolation" or thresholds is not None or multi_label or label_weights is not None:
            raise NotImplementedError("AUC: only summation_method='interpolation', evenly spaced thresholds and "
                                      "multi_label=False are supported")
        self.from_logits = bool(from_logits)
        if num_thresholds < 2:
            raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
        if curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        self.num_thresholds, self.curve = int(num_thresholds), curve.upper()
        eps = 1e-7
        inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        super().__init__(name, dtype)

    def _init_state(self):
        self.tp, self.fp, self.tn, self.fn = (np.zeros(self.num_thresholds) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, np.float64)
        if self.from_logits:
            y_pred = 0.5 * (1 + np.tanh(0.5 * y_pred))  # the sigmoid, without overflow
        truth, y_pred = _binary_targets(y_true, y_pred)
        w = np.ones(y_pred.shape) if sample_weight is None else \
            np.broadcast_to(np.asarray(sample_weight, np.float64).reshape(-1, 1), y_pred.shape)
        above = y_pred.reshape(1, -1) > self._thresholds[:, None]  # thresholds x elements
        t, wv = truth.reshape(1, -1), w.reshape(1, -1)
        self.tp += (above & t).astype(np.float64) @ wv[0]
        self.fp += (above & ~t).astype(np.float64) @ wv[0]
        self.fn += (~above & t).astype(np.float64) @ wv[0]
        self.tn += (~above & ~t).astype(np.float64) @ wv[0]

    def add_sums(self, total, count):
        raise TypeError("AUC keeps confusion counts, not sums")

    def result(self):
        def div(a, b):
            return np.divide(a, b, out=np.zeros_like(a), where=b != 0)
        if self.curve == "ROC":
            recall = div(self.tp, self.tp + self.fn)
            fp_rate = div(self.fp, self.fp + self.tn)
            heights = (recall[:-1] + recall[1:]) / 2
            return float(np.sum((fp_rate[:-1] - fp_rate[1:]) * heights))
        tp, fp, fn = self.tp, self.fp, self.fn
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where((p[:-1] > 0) & (p[1:] > 0), div(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increments = div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
        return float(np.sum(increments))

    def get_config(self):
        return {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                "from_logits": self.from_logits}


class MeanMetricWrapper(Metric):
    """A function ``fn(y_true, y_pred)`` returning one value per sample (or one for the batch),
    averaged over the epoch with the sample weights. The slow path: numpy on every batch."""

    def __init__(self, fn, name=None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def values(self, y_true, y_pred):
        v = np.asarray(self.fn(y_true, y_pred), np.float64)
        if v.ndim == 0:
            v = np.full(y_pred.shape[0], float(v))
        if v.shape != (y_pred.shape[0],):
            raise ValueError(f"metric {self.name!r} returned shape {v.shape}; expected one value per sample "
                             f"({y_pred.shape[0]},) or a scalar")
        return v

    def get_config(self):
        raise ValueError(f"metric {self.name!r} is a Python function and cannot be saved; pass "
                         "compile=False to load_model and compile again")


class FBetaScore(Metric):
    """Keras' F-beta score over classes (y_true one-hot or multi-label, y_pred scores): the row's top
    score counts as the prediction when threshold is None, else every score above it; per-class
    counts, then average None (one score per class), 'micro', 'macro' or 'weighted' (by support)."""
    name = "fbeta_score"

    def __init__(self, average=None, beta=1.0, threshold=None, name=None, dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(f"{type(self).__name__}: average must be None, 'micro', 'macro' or 'weighted', "
                             f"got {average!r}")
        if not isinstance(beta, float) or beta <= 0:
            raise ValueError(f"{type(self).__name__}: beta must be a float > 0, got {beta!r}")
        if threshold is not None and (not isinstance(threshold, float) or not 0 < threshold <= 1):
            raise ValueError(f"{type(self).__name__}: threshold must be a float in (0, 1], got {threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        super().__init__(name, dtype)

    def _init_state(self):
        self.tp = self.fp = self.fn = self.support = 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
        if y_true.ndim != 2 or y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(f"{type(self).__name__} expects 2-D y_true and y_pred of one shape (batch, classes), "
                             f"got {y_true.shape} and {y_pred.shape}")
        if self.threshold is None:
            pred = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            pred = y_pred > self.threshold
        pred = pred.astype(np.float64)
        w = np.ones((y_true.shape[0], 1)) if sample_weight is None else \
            np.asarray(sample_weight, np.float64).reshape(-1, 1)
        axis = None if self.average == "micro" else 0
        self.tp = self.tp + np.sum(pred * y_true * w, axis=axis)
        self.fp = self.fp + np.sum(pred * (1 - y_true) * w, axis=axis)
        self.fn = self.fn + np.sum((1 - pred) * y_true * w, axis=axis)
        self.support = self.support + np.sum(y_true * w, axis=axis)

    def result(self):
        eps = 1e-7  # Keras' epsilon, in the same places
        precision = self.tp / (self.tp + self.fp + eps)
        recall = self.tp / (self.tp + self.fn + eps)
        b2 = self.beta ** 2
        score = (1 + b2) * precision * recall / (b2 * precision + recall + eps)
        if self.average == "weighted":
            return float(np.sum(score * self.support / (np.sum(self.support) + eps)))
        if self.average is not None:
            return float(np.mean(score))
        return np.asarray(score, np.float64)

    def add_sums(self, total, count):
        raise TypeError(f"{type(self).__name__} keeps per-class counts, not sums")

    def get_config(self):
        return {"name": self.name, "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    name = "f1_score"

    def __init__(self, average=None, threshold=None, name=None, dtype=None):
        super().__init__(average, 1.0, threshold, name, dtype)

    def get_config(self):
        return {"name": self.name, "average": self.average, "threshold": self.threshold}


class R2Score(Metric):
    """The coefficient of determination of each output, over everything seen: 1 - residual sum of
    squares / total sum of squares, averaged as `class_aggregation` says (None: one per output),
    adjusted for `num_regressors` predictors when given (as Keras)."""
    name = "r2_score"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name=None, dtype=None):
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError(f"R2Score: class_aggregation must be None, 'uniform_average' or "
                             f"'variance_weighted_average', got {class_aggregation!r}")
        if num_regressors < 0:
            raise ValueError(f"R2Score: num_regressors must be >= 0, got {num_regressors}")
        self.class_aggregation, self.num_regressors = class_aggregation, int(num_regressors)
        super().__init__(name, dtype)

    def _init_state(self):
        self.sum = self.squared_sum = self.residual = self.count = 0.0
        self.num_samples = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, np.float64)
        y_pred = y_pred.reshape(y_pred.shape[0], -1) if y_pred.ndim != 2 else y_pred
        y_true = np.asarray(y_true, np.float64).reshape(y_pred.shape)
        w = np.ones_like(y_true) if sample_weight is None else \
            np.broadcast_to(np.asarray(sample_weight, np.float64).reshape(-1, 1), y_true.shape)
        self.sum = self.sum + np.sum(y_true * w, axis=0)
        self.squared_sum = self.squared_sum + np.sum(y_true * y_true * w, axis=0)
        self.residual = self.residual + np.sum((y_true - y_pred) ** 2 * w, axis=0)
        self.count = self.count + np.sum(w, axis=0)
        self.num_samples += y_true.size

    def result(self):
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum / self.count
            total = self.squared_sum - self.sum * mean
            raw = 1 - self.residual / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            r2 = np.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            r2 = np.sum(total * raw) / np.sum(total)
        else:
            r2 = raw
        n, p = self.num_samples, self.num_regressors
        if p and p < n - 1:
            r2 = 1 - (1 - r2) * (n - 1) / (n - p - 1)
        return float(r2) if np.ndim(r2) == 0 else np.asarray(r2)

    def add_sums(self, total, count):
        raise TypeError("R2Score keeps sums of squares, not sums")

    def get_config(self):
        return {"name": self.name, "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


# ------------------------------------------------------------------ losses as metrics, and functions
class _LossMetric(Metric):
    """The mean over the epoch of a per-sample loss function."""

    def values(self, y_true, y_pred):
        return np.asarray(type(self)._fn(y_true, y_pred), np.float64)


def _loss_metric(class_name, name, fn):
    return type(class_name, (_LossMetric,), {"name": name, "_fn": staticmethod(fn),
                                             "__doc__": f"Keras' {class_name} metric: the mean of {name}."})


Hinge = _loss_metric("Hinge", "hinge", numpy_losses.hinge)
SquaredHinge = _loss_metric("SquaredHinge", "squared_hinge", numpy_losses.squared_hinge)
CategoricalHinge = _loss_metric("CategoricalHinge", "categorical_hinge", numpy_losses.categorical_hinge)
KLDivergence = _loss_metric("KLDivergence", "kl_divergence", numpy_losses.kl_divergence)
Poisson = _loss_metric("Poisson", "poisson", numpy_losses.poisson)
LogCoshError = _loss_metric("LogCoshError", "logcosh", numpy_losses.log_cosh)
MeanAbsolutePercentageError = _loss_metric("MeanAbsolutePercentageError", "mean_absolute_percentage_error",
                                           numpy_losses.mean_absolute_percentage_error)
MeanSquaredLogarithmicError = _loss_metric("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error",
                                           numpy_losses.mean_squared_logarithmic_error)


class CosineSimilarity(_LossMetric):
    """The mean cosine similarity of y_true and y_pred (positive, unlike the loss)."""
    name = "cosine_similarity"

    def __init__(self, name=None, dtype=None, axis=-1):
        if axis != -1:
            raise NotImplementedError("CosineSimilarity: only axis=-1 is supported")
        super().__init__(name, dtype)

    @staticmethod
    def _fn(y_true, y_pred):
        return -numpy_losses.cosine_similarity(y_true, y_pred)


class _CrossentropyMetric(Metric):
    def __init__(self, name=None, dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        if label_smoothing or axis != -1:
            raise NotImplementedError(f"{type(self).__name__}: label_smoothing and axis are not supported")
        self.from_logits = bool(from_logits)
        super().__init__(name, dtype)

    def values(self, y_true, y_pred):
        return np.asarray(type(self)._fn(y_true, y_pred, self.from_logits), np.float64)

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}


class BinaryCrossentropy(_CrossentropyMetric):
    name = "binary_crossentropy"

    @staticmethod
    def _fn(y_true, y_pred, from_logits):
        y_pred = np.asarray(y_pred, np.float32)
        y_pred = y_pred.reshape(y_pred.shape[0], -1) if y_pred.ndim != 2 else y_pred
        return kernels.binary_crossentropy(np.asarray(y_true, np.float32).reshape(y_pred.shape), y_pred, from_logits)


class CategoricalCrossentropy(_CrossentropyMetric):
    name = "categorical_crossentropy"
    _fn = staticmethod(kernels.categorical_crossentropy)


class SparseCategoricalCrossentropy(_CrossentropyMetric):
    name = "sparse_categorical_crossentropy"
    _fn = staticmethod(kernels.sparse_categorical_crossentropy)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Element-wise 1.0 where y_pred > threshold equals y_true (as keras.metrics.binary_accuracy)."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true).reshape(y_pred.shape)
    return (y_true == (y_pred > threshold)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    return CategoricalAccuracy().values(np.asarray(y_true), np.asarray(y_pred))


def sparse_categorical_accuracy(y_true, y_pred):
    return SparseCategoricalAccuracy().values(np.asarray(y_true), np.asarray(y_pred))


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    return TopKCategoricalAccuracy(k=k).values(np.asarray(y_true), np.asarray(y_pred))


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    return SparseTopKCategoricalAccuracy(k=k).values(np.asarray(y_true), np.asarray(y_pred))


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "root_mean_squared_error": RootMeanSquaredError, "rmse": RootMeanSquaredError,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "precision": Precision, "recall": Recall, "auc": AUC, "true_positives": TruePositives,
    "false_positives": FalsePositives, "true_negatives": TrueNegatives, "false_negatives": FalseNegatives,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy, "hinge": Hinge, "squared_hinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge, "kl_divergence": KLDivergence, "kld": KLDivergence, "poisson": Poisson,
    "logcosh": LogCoshError, "log_cosh": LogCoshError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mape": MeanAbsolutePercentageError, "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "msle": MeanSquaredLogarithmicError, "cosine_similarity": CosineSimilarity, "f1_score": F1Score,
    "fbeta_score": FBetaScore, "r2_score": R2Score,
}


def get(identifier, loss=None, units=None, sparse_targets=False) -> Metric:
    """A Metric from a name, class, instance or function fn(y_true, y_pred). 'accuracy'/'acc'
    picks the variant Keras would pick for the loss and target layout, and keeps the name the user
    wrote (so History has 'accuracy'), as do the other names ('mae' logs as 'mae')."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier) and not isinstance(identifier, type):
        return MeanMetricWrapper(identifier)
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
