"""Weight regularizers (Keras names and defaults): penalty added to the loss, gradient to dW. The
built-in L1/L2 penalty and its gradient are C++ kernels, shared with the engine; a subclass that
overrides __call__ or add_gradient trains on the Python path."""
from __future__ import annotations

import numpy as np

from . import _core, autodiff
from .serialization import classes_of, deserialize

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get"]


def engine_penalties(*regularizers):
    """Each regularizer (or None: no penalty) as the engine's _core.Penalty, or None when one of
    them has a formula of its own (that layer trains on the Python path)."""
    penalties = [_core.Penalty() if r is None else r.engine_penalty() for r in regularizers]
    return None if any(p is None for p in penalties) else penalties


class Regularizer:
    def __init__(self, l1=0.0, l2=0.0):
        for name, v in (("l1", l1), ("l2", l2)):
            if not (isinstance(v, (int, float)) and v >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w: np.ndarray) -> float:
        """l1 * sum |w| + l2 * sum w^2, each sum in float64 (traced: with keras.ops, so that a
        subclass's formula built on it is differentiated)."""
        if autodiff.is_traced(w):
            op = autodiff.tracing.operator
            return self.l1 * op("sum")(op("abs")(w)) + self.l2 * op("sum")(op("square")(w))
        return _core.weight_penalty(np.ascontiguousarray(w, np.float32).reshape(-1), self.l1, self.l2)

    def add_gradient(self, grad: np.ndarray, w: np.ndarray) -> None:
        """grad += l1 * sign(w) + 2 l2 * w, in place; for a subclass with a formula of its own
        (__call__ written with keras.ops, as Keras' guide writes one), the formula's gradient,
        traced once per weight shape."""
        if type(self).__call__ is Regularizer.__call__:
            _core.add_penalty_gradient(grad.reshape(-1), w.reshape(-1), self.l1, self.l2)
            return
        program = self._traced(w.shape)
        program.forward([np.asarray(w, np.float32)], True)
        grad += program.backward([np.float32(1)], wrt_inputs=True)[("input", 0)].astype(grad.dtype, copy=False)

    def _traced(self, shape):
        programs = self.__dict__.setdefault("_programs", {})
        if shape not in programs:
            trace = autodiff.Trace(True)
            try:
                with autodiff.recording(trace):
                    penalty = self(trace.input(np.zeros(shape, np.float32)))
            except (autodiff.TracingError, NotImplementedError, AttributeError, TypeError) as e:
                raise TypeError(f"regularizer {type(self).__name__}: its __call__ could not be traced to take its "
                                f"gradient ({e}); write it with keras.ops, or define add_gradient(grad, w)") from None
            if not autodiff.is_traced(penalty) or penalty.shape != ():
                raise TypeError(f"regularizer {type(self).__name__}: __call__(w) must return a scalar computed from w "
                                f"with keras.ops, got {penalty!r}")
            programs[shape] = autodiff.Program(trace, [penalty])
        return programs[shape]

    def engine_penalty(self):
        """The penalty as the engine computes it, or None for a subclass with its own formula."""
        if type(self).__call__ is not Regularizer.__call__ or type(self).add_gradient is not Regularizer.add_gradient:
            return None
        return _core.Penalty(self.l1, self.l2)

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
