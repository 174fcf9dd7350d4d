"""keras.constraints: projections applied to a weight after each optimizer update (Keras applies
them to the trainable variables that have one, in the optimizer's apply). Formulas and epsilon
(1e-7) as Keras 3's, computed in float32. A model with constraints trains on the Python path."""
from __future__ import annotations

import numpy as np

from .serialization import classes_of, deserialize

EPSILON = np.float32(1e-7)


def _norms(w, axis):
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True, dtype=np.float32))


class Constraint:
    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MaxNorm(Constraint):
    """Each slice along `axis` (input columns of a Dense kernel by default) scaled to norm <= max_value."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value).astype(np.float32)
        return (w * (desired / (EPSILON + norms))).astype(np.float32)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        return (w * (w >= 0)).astype(np.float32)


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return (w / (EPSILON + _norms(w, self.axis))).astype(np.float32)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired.astype(np.float32) / (EPSILON + norms))).astype(np.float32)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


_NAMES = {"max_norm": MaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm}


def get(identifier):
    """A constraint from None, a Constraint, a Keras name or a serialized config."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier, classes_of(globals(), Constraint), "constraint")
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"unknown constraint {identifier!r}; use {sorted(_NAMES)} or a keras.constraints.Constraint")


def apply(layers) -> None:
    """After an optimizer update: each trainable weight with a constraint projected in place."""
    for layer in layers:
        projections = layer.weight_constraints()
        if not projections:  # (most layers: nothing to do in the step)
            continue
        mask = layer.trainable_mask()
        for i, constraint in projections:
            if mask[i]:
                w = layer._weights[i]
                w[...] = constraint(w)
