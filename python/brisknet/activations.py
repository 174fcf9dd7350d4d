"""Activation functions by Keras name, computed by the C++ kernels (float32/float64 numpy arrays)."""
from __future__ import annotations

import functools

import numpy as np

from . import autodiff, kernels

__all__ = ["get", "serialize", "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
           "hard_sigmoid", "tanh", "softplus", "softsign", "swish", "silu", "softmax", "log_softmax", "exponential",
           "mish", "hard_silu", "hard_swish", "log_sigmoid", "hard_tanh"]


def _make(name):
    def f(x, **kwargs):
        return kernels.activation(x, name, **kwargs)
    f.__name__ = name
    f.__doc__ = f"Keras' {name} activation on a numpy array."
    return f


def linear(x):
    return kernels.activation(x, "linear")


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras 3's relu: max(x, 0) on the kernel; with its options, x above `threshold` (else 0),
    clipped at `max_value`, plus `negative_slope` times the part below the threshold."""
    if negative_slope == 0 and threshold == 0 and max_value is None:
        return kernels.activation(x, "relu")
    if negative_slope == 0 and threshold == 0 and max_value == 6:
        return kernels.activation(x, "relu6")
    if threshold == 0 and max_value is None:
        return kernels.activation(x, "leaky_relu", alpha=negative_slope)
    x = kernels.as_float(x, "x")
    y = x * (x > threshold) if threshold != 0 else np.maximum(x, 0)
    if max_value is not None:
        y = np.clip(y, 0, max_value)
    if negative_slope != 0:
        y = y - negative_slope * np.maximum(threshold - x, 0)
    return y.astype(x.dtype, copy=False)


def relu6(x):
    return kernels.activation(x, "relu6")


def leaky_relu(x, negative_slope=0.2):
    return kernels.activation(x, "leaky_relu", alpha=negative_slope)


def elu(x, alpha=1.0):
    return kernels.activation(x, "elu", alpha=alpha)


def gelu(x, approximate=False):
    return kernels.activation(x, "gelu_tanh" if approximate else "gelu")


selu = _make("selu")
sigmoid = _make("sigmoid")
hard_sigmoid = _make("hard_sigmoid")
tanh = _make("tanh")
softplus = _make("softplus")
softsign = _make("softsign")
swish = _make("swish")
silu = swish
exponential = _make("exponential")
mish = _make("mish")
hard_silu = _make("hard_silu")
hard_swish = hard_silu
log_sigmoid = _make("log_sigmoid")
hard_tanh = _make("hard_tanh")


def softmax(x, axis=-1):
    """Keras' softmax along `axis` (the kernel acts on the last axis)."""
    return _along(x, "softmax", axis)


def log_softmax(x, axis=-1):
    return _along(x, "log_softmax", axis)


def _along(x, name, axis):
    x = kernels.as_float(x, "x")
    if axis in (-1, x.ndim - 1):
        return kernels.activation(x, name)
    return np.moveaxis(kernels.activation(np.ascontiguousarray(np.moveaxis(x, axis, -1)), name), -1, axis)


def _traced_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    from .autodiff import traced_ops as t
    if negative_slope == 0 and threshold == 0:
        return t.relu(x) if max_value is None else (t.relu6(x) if max_value == 6 else t.clip(x, 0, max_value))
    y = t.where(t.greater(x, threshold), x, 0.0) if threshold != 0 else t.relu(x)
    if max_value is not None:
        y = t.clip(y, 0, max_value)
    if negative_slope != 0:
        y = t.subtract(y, t.multiply(negative_slope, t.relu(t.subtract(threshold, x))))
    return y


def _traced_twin(name):
    from .autodiff import traced_ops as t
    special = {"linear": lambda x: t.tensor(x), "relu": _traced_relu, "exponential": t.exp,
               "gelu": lambda x, approximate=False: t.gelu(x, approximate)}
    return special.get(name) or getattr(t, name)


def _route_traced(namespace):
    """Each activation called on a traced tensor (inside a layer's call()) is recorded in its graph."""
    for name in __all__:
        fn = namespace[name]
        if name in ("get", "serialize") or getattr(fn, "__module__", None) != __name__:
            continue

        def routed(x, *args, _fn=fn, _name=fn.__name__, **kwargs):
            if autodiff.is_traced(x) or (autodiff.current() is not None and not isinstance(x, np.ndarray)):
                return _traced_twin(_name)(x, *args, **kwargs)
            return _fn(x, *args, **kwargs)
        namespace[name] = functools.wraps(fn)(routed)


def get(identifier) -> str:
    """The kernel name of an activation given as None, a Keras name, or one of this module's functions."""
    if identifier is None:
        return "linear"
    if callable(identifier) and getattr(identifier, "__module__", None) == __name__:
        identifier = identifier.__name__
    if isinstance(identifier, str):
        name = identifier.lower()
        name = {"silu": "swish", "hard_swish": "hard_silu"}.get(name, name)
        if name in kernels.ACTIVATIONS:
            return name
    raise ValueError(f"unknown activation {identifier!r}; known: {sorted(kernels.ACTIVATIONS)}")


def serialize(name: str) -> str:
    return name


_route_traced(globals())
