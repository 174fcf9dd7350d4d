"""Optimizers with Keras names, defaults and update rules."""
from . import schedules
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .more_optimizers import Adadelta, Adamax, Lion, Nadam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["schedules", "Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "Nadam", "Adadelta",
           "Lion", "get"]

_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad, "adamax": Adamax,
            "nadam": Nadam, "adadelta": Adadelta, "lion": Lion}


def get(identifier) -> Optimizer:
    """An optimizer from a Keras name ('adam', 'sgd', ...) or an Optimizer instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"unknown optimizer {identifier!r}; known: {sorted(_BY_NAME)}")
