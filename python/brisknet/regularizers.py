"""Weight regularizers (Keras names and defaults): penalty added to the loss, gradient to dW."""
from __future__ import annotations

import numpy as np

from .serialization import classes_of, deserialize

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get"]


class Regularizer:
    def __init__(self, l1=0.0, l2=0.0):
        for name, v in (("l1", l1), ("l2", l2)):
            if not (isinstance(v, (int, float)) and v >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w: np.ndarray) -> float:
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w, dtype=np.float64).sum())
        if self.l2:
            total += self.l2 * float(np.square(w, dtype=np.float64).sum())
        return total

    def add_gradient(self, grad: np.ndarray, w: np.ndarray) -> None:
        """grad += d penalty / dw, in place."""
        if self.l1:
            grad += np.float32(self.l1) * np.sign(w)
        if self.l2:
            grad += np.float32(2.0 * self.l2) * w

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    def __init__(self, l1=0.0, l2=0.0):
        super().__init__(l1=l1, l2=l2)


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


def get(identifier):
    """A regularizer from None, a Regularizer, a Keras name or a serialized config."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, classes_of(globals(), Regularizer), "regularizer")
    if isinstance(identifier, str):
        makers = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01), "l1l2": lambda: L1L2(0.01, 0.01)}
        if identifier.lower() in makers:
            return makers[identifier.lower()]()
    raise ValueError(f"unknown regularizer {identifier!r}; use 'l1', 'l2', 'l1_l2' or a Regularizer")
