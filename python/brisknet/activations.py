"""Activation functions by Keras name, computed by the C++ kernels (float32/float64 numpy arrays)."""
from __future__ import annotations

from . import ops

__all__ = ["get", "serialize", "linear", "relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid",
           "hard_sigmoid", "tanh", "softplus", "softsign", "swish", "silu", "softmax", "log_softmax"]


def _make(name):
    def f(x, **kwargs):
        return ops.activation(x, name, **kwargs)
    f.__name__ = name
    f.__doc__ = f"Keras' {name} activation on a numpy array."
    return f


def linear(x):
    return ops.activation(x, "linear")


def relu(x):
    return ops.activation(x, "relu")


def leaky_relu(x, negative_slope=0.2):
    return ops.activation(x, "leaky_relu", alpha=negative_slope)


def elu(x, alpha=1.0):
    return ops.activation(x, "elu", alpha=alpha)


def gelu(x, approximate=False):
    return ops.activation(x, "gelu_tanh" if approximate else "gelu")


selu = _make("selu")
sigmoid = _make("sigmoid")
hard_sigmoid = _make("hard_sigmoid")
tanh = _make("tanh")
softplus = _make("softplus")
softsign = _make("softsign")
swish = _make("swish")
silu = swish
softmax = _make("softmax")
log_softmax = _make("log_softmax")


def get(identifier) -> str:
    """The kernel name of an activation given as None, a Keras name, or one of this module's functions."""
    if identifier is None:
        return "linear"
    if callable(identifier) and getattr(identifier, "__module__", None) == __name__:
        identifier = identifier.__name__
    if isinstance(identifier, str):
        name = identifier.lower()
        if name == "silu":
            return "swish"
        if name in ops.ACTIVATIONS:
            return name
    raise ValueError(f"unknown activation {identifier!r}; known: {sorted(ops.ACTIVATIONS)}")


def serialize(name: str) -> str:
    return name
