"""The Loss base class (Keras' API: call, reduction, the slow path for custom losses) and
LossFunctionWrapper for plain functions."""
from __future__ import annotations

import numpy as np

from .. import autodiff, kernels


class Loss:
    """Base class, as Keras': calling the loss reduces its per-sample values (sum_over_batch_size:
    sum(w * loss) / batch size). Built-in losses compute per-sample values and their gradient in
    C++ (``per_sample``). A subclass written as in the Keras guide overrides ``call(y_true,
    y_pred)`` (one value per sample out): written with keras.ops it is traced and differentiated
    exactly; written with numpy it trains on the slow path, its gradient with respect to the
    predictions taken by central differences."""

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
        program = self._traced(np.asarray(y_true), np.asarray(y_pred))
        if program is not None:  # written with keras.ops: exact values and gradient
            return self._per_sample_traced(program, y_true, y_pred, sample_weight, return_grad, grad_scale)
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

    def _traced(self, y_true, y_pred):
        """call() traced on targets and predictions of these shapes (once each), or None when it is
        not written with keras.ops (numpy on the values: then central differences)."""
        key = (y_true.shape, y_true.dtype.str, y_pred.shape, y_pred.dtype.str)
        programs = self.__dict__.setdefault("_programs", {})
        if key not in programs:
            programs[key] = None
            if not self.__dict__.get("_numpy_only"):
                trace = autodiff.Trace(False)
                try:
                    with autodiff.recording(trace):
                        yt, yp = trace.input(np.zeros_like(y_true)), trace.input(np.zeros_like(y_pred))
                        out = self.call(yt, yp)
                    if autodiff.is_traced(out) and out.shape == (y_pred.shape[0],) and out.differentiable:
                        programs[key] = autodiff.Program(trace, [out])
                except Exception:  # not written with keras.ops (numpy on the values): the numpy path says what is wrong
                    pass
                self._numpy_only = programs[key] is None
        return programs[key]

    def _per_sample_traced(self, program, y_true, y_pred, sample_weight, return_grad, grad_scale):
        w = np.ones(np.shape(y_pred)[0], np.float32) if sample_weight is None else \
            np.asarray(sample_weight, np.float32).reshape(-1)
        (values,), _ = program.forward([np.asarray(y_true), np.asarray(y_pred)], False)
        per = (values * w).astype(np.float32)
        if not return_grad:
            return per
        grad = program.backward([(w * np.float32(grad_scale)).astype(values.dtype)], wrt_inputs=True)[("input", 1)]
        return per, np.asarray(grad, np.float32)

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
