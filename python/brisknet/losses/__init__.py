"""Losses by Keras name and class. The cross-entropies, MSE, MAE and Huber compute per-sample
values and their gradient in C++ (builtin.py); Keras' other losses in numpy with analytic gradients
(numpy_losses.py); any Loss subclass with call(), or a plain function, on the slow path (base.py).

Reduction is Keras' default "sum_over_batch_size": sum(sample_weight * loss) / batch_size.
"""
from .base import Loss, LossFunctionWrapper
from .builtin import (BinaryCrossentropy, CategoricalCrossentropy, Huber, MeanAbsoluteError, MeanSquaredError,
                      SparseCategoricalCrossentropy, binary_crossentropy, categorical_crossentropy, huber,
                      mean_absolute_error, mean_squared_error, sparse_categorical_crossentropy)
from .numpy_losses import (CategoricalHinge, CosineSimilarity, Hinge, KLDivergence, LogCosh,
                           MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Poisson, SquaredHinge,
                           categorical_hinge, cosine_similarity, hinge, kl_divergence, log_cosh,
                           mean_absolute_percentage_error, mean_squared_logarithmic_error, poisson, squared_hinge)
from . import numpy_losses as _numpy_losses

__all__ = ["Loss", "LossFunctionWrapper", "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
           "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "Huber", "Hinge", "SquaredHinge",
           "CategoricalHinge", "LogCosh", "KLDivergence", "Poisson", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "CosineSimilarity", "sparse_categorical_crossentropy",
           "categorical_crossentropy", "binary_crossentropy", "mean_squared_error", "mean_absolute_error", "huber",
           "hinge", "squared_hinge", "categorical_hinge", "log_cosh", "kl_divergence", "poisson",
           "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "cosine_similarity", "get",
           "serialize", "deserialize"]

_BY_NAME = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber, **_numpy_losses.BY_NAME,
}
_FUNCTIONS = {sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              categorical_crossentropy: CategoricalCrossentropy, binary_crossentropy: BinaryCrossentropy,
              mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError, huber: Huber,
              **_numpy_losses.FUNCTIONS}


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


def serialize(loss) -> dict:
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config) -> Loss:
    from ..serialization import classes_of, deserialize as _deserialize
    return _deserialize(config, classes_of(globals(), Loss), "loss")
