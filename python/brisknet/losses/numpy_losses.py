"""Keras' other losses (hinge family, log-cosh, KL divergence, Poisson, MAPE, MSLE, cosine
similarity) in numpy, each with its analytic gradient: they train on the Python path (the C++
engine covers the cross-entropies, MSE, MAE and Huber). Formulas, epsilons and label conventions
are Keras 3's."""
from __future__ import annotations

import numpy as np

from .builtin import _Regression

EPS = 1e-7  # Keras' epsilon


def _hinge_labels(y):
    """As Keras: labels that are all 0 or 1 become -1 or 1."""
    return 2.0 * y - 1.0 if np.all((y == 0) | (y == 1)) else y


def hinge(y_true, y_pred):
    return _values(_hinge, y_true, y_pred)


def _hinge(y, p):
    y = _hinge_labels(y)
    margin = 1.0 - y * p
    return np.maximum(margin, 0).mean(axis=-1), np.where(margin > 0, -y, 0.0) / p.shape[-1]


def squared_hinge(y_true, y_pred):
    return _values(_squared_hinge, y_true, y_pred)


def _squared_hinge(y, p):
    y = _hinge_labels(y)
    m = np.maximum(1.0 - y * p, 0)
    return (m * m).mean(axis=-1), -2.0 * y * m / p.shape[-1]


def categorical_hinge(y_true, y_pred):
    return _values(_categorical_hinge, y_true, y_pred)


def _categorical_hinge(y, p):
    pos = np.sum(y * p, axis=-1)
    others = (1.0 - y) * p
    j = np.argmax(others, axis=-1)
    neg = np.take_along_axis(others, j[:, None], -1)[:, 0]
    active = (neg - pos + 1.0) > 0
    grad = -y.copy()
    np.put_along_axis(grad, j[:, None], np.take_along_axis(grad, j[:, None], -1) +
                      np.take_along_axis(1.0 - y, j[:, None], -1), -1)
    return np.maximum(neg - pos + 1.0, 0), grad * active[:, None]


def log_cosh(y_true, y_pred):
    return _values(_log_cosh, y_true, y_pred)


def _log_cosh(y, p):
    x = p - y
    return (x + np.logaddexp(0, -2.0 * x) - np.log(2.0)).mean(axis=-1), np.tanh(x) / p.shape[-1]


def kl_divergence(y_true, y_pred):
    return _values(_kl_divergence, y_true, y_pred)


def _kl_divergence(y, p):
    yc, pc = np.clip(y, EPS, 1), np.clip(p, EPS, 1)
    inside = (p > EPS) & (p < 1)
    return np.sum(yc * np.log(yc / pc), axis=-1), np.where(inside, -yc / pc, 0.0)


def poisson(y_true, y_pred):
    return _values(_poisson, y_true, y_pred)


def _poisson(y, p):
    return (p - y * np.log(p + EPS)).mean(axis=-1), (1.0 - y / (p + EPS)) / p.shape[-1]


def mean_absolute_percentage_error(y_true, y_pred):
    return _values(_mape, y_true, y_pred)


def _mape(y, p):
    scale = np.maximum(np.abs(y), EPS)
    return 100.0 * (np.abs(y - p) / scale).mean(axis=-1), 100.0 * np.sign(p - y) / scale / p.shape[-1]


def mean_squared_logarithmic_error(y_true, y_pred):
    return _values(_msle, y_true, y_pred)


def _msle(y, p):
    d = np.log(np.maximum(p, EPS) + 1.0) - np.log(np.maximum(y, EPS) + 1.0)
    return (d * d).mean(axis=-1), np.where(p > EPS, 2.0 * d / (p + 1.0), 0.0) / p.shape[-1]


def cosine_similarity(y_true, y_pred, axis=-1):
    return _values(_cosine, y_true, y_pred)


def _cosine(y, p):
    """-cos(y, p), with Keras' l2_normalize (x / sqrt(max(sum x^2, 1e-12)))."""
    yn = y / np.sqrt(np.maximum(np.sum(y * y, axis=-1, keepdims=True), 1e-12))
    norm = np.sqrt(np.maximum(np.sum(p * p, axis=-1, keepdims=True), 1e-12))
    pn = p / norm
    cos = np.sum(yn * pn, axis=-1, keepdims=True)
    return -cos[:, 0], -(yn - cos * pn) / norm


def _values(fn, y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    return fn(y, p)[0].astype(np.float32)


def _pair(y_true, y_pred):
    p = np.asarray(y_pred, np.float64)
    p = p.reshape(p.shape[0], -1) if p.ndim != 2 else p
    y = np.asarray(y_true, np.float64).reshape(p.shape[0], -1)
    if y.shape[1] == 1 and p.shape[1] > 1:
        y = np.broadcast_to(y, p.shape)
    if y.shape != p.shape:
        raise ValueError(f"y_true {y.shape} and y_pred {p.shape} do not match")
    return y, p


class _NumpyLoss(_Regression):
    """A loss with per-sample values and gradient from a numpy function fn(y, p) -> (values, grad)."""
    _fn = None

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction)

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0,
                   from_logits=None):
        y, p = _pair(y_true, y_pred)
        values, grad = type(self)._fn(y, p)
        w = np.ones(p.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64).reshape(-1)
        per = (values * w).astype(np.float32)
        if not return_grad:
            return per
        return per, (grad * (w[:, None] * grad_scale)).reshape(np.shape(y_pred)).astype(np.float32)


def _loss_class(class_name, name, fn):
    return type(class_name, (_NumpyLoss,), {"name": name, "_fn": staticmethod(fn),
                                            "__doc__": f"Keras' {class_name} (numpy, analytic gradient)."})


Hinge = _loss_class("Hinge", "hinge", _hinge)
SquaredHinge = _loss_class("SquaredHinge", "squared_hinge", _squared_hinge)
CategoricalHinge = _loss_class("CategoricalHinge", "categorical_hinge", _categorical_hinge)
LogCosh = _loss_class("LogCosh", "log_cosh", _log_cosh)
KLDivergence = _loss_class("KLDivergence", "kl_divergence", _kl_divergence)
Poisson = _loss_class("Poisson", "poisson", _poisson)
MeanAbsolutePercentageError = _loss_class("MeanAbsolutePercentageError", "mean_absolute_percentage_error", _mape)
MeanSquaredLogarithmicError = _loss_class("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", _msle)


class CosineSimilarity(_NumpyLoss):
    """Keras' CosineSimilarity loss: -cos(y_true, y_pred) along the last axis."""
    name = "cosine_similarity"
    _fn = staticmethod(_cosine)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name=None, dtype=None):
        if axis != -1:
            raise NotImplementedError("CosineSimilarity: only axis=-1 is supported")
        super().__init__(reduction, name)


BY_NAME = {"hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
           "log_cosh": LogCosh, "logcosh": LogCosh, "kl_divergence": KLDivergence, "kld": KLDivergence,
           "kullback_leibler_divergence": KLDivergence, "poisson": Poisson,
           "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
           "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
           "cosine_similarity": CosineSimilarity}
FUNCTIONS = {hinge: Hinge, squared_hinge: SquaredHinge, categorical_hinge: CategoricalHinge, log_cosh: LogCosh,
             kl_divergence: KLDivergence, poisson: Poisson, mean_absolute_percentage_error: MeanAbsolutePercentageError,
             mean_squared_logarithmic_error: MeanSquaredLogarithmicError, cosine_similarity: CosineSimilarity}
