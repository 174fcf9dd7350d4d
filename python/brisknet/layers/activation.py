from __future__ import annotations

import math

import numpy as np

from .. import _core, activations, kernels
from .layer import Layer


class Activation(Layer):
    """Applies an activation function by Keras name (no weights)."""
    _MASKING = True  # (Keras: supports_masking)
    elementwise = True  # (softmax too: along the last axis, which a lone row keeps)

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._act = kernels.ACTIVATIONS[self.activation]
        self._alpha = kernels.DEFAULT_ALPHA.get(self.activation, 0.0)
        self.fused_logits = False

    def forward(self, x, training):
        self._x = x
        self._y = self.buffer("y", x.shape, x.dtype)
        _core.activation_forward(self._y, x, self._act, self._alpha)
        return self._y

    @property
    def logits(self):
        return self._x

    def backward(self, dy, need_dx):
        if self.fused_logits or self.activation == "linear":
            return dy
        dx = self.buffer("dx", dy.shape, dy.dtype)
        _core.activation_backward(dx, dy, self._x, self._y, self._act, self._alpha)
        return dx

    def engine_spec(self, offset_of):
        if len(self.input_shape) != 1 and self.activation in ("softmax", "log_softmax"):
            return None  # along the last axis of a sample with several: the Python path
        s = _core.LayerSpec()
        s.kind, s.activation, s.alpha = _core.LayerKind.activation, self._act, self._alpha
        s.inputs = s.outputs = math.prod(self.input_shape)
        return [s]

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class Softmax(Activation):
    """Keras' Softmax layer, over the last axis (the only axis of a Dense stack's features)."""

    def __init__(self, axis=-1, **kwargs):
        if axis != -1:
            raise NotImplementedError(f"Softmax: only axis=-1 is supported, got axis={axis!r}")
        super().__init__("softmax", **kwargs)
        self.axis = axis

    def get_config(self):
        return {**Layer.get_config(self), "axis": self.axis}


class ReLU(Activation):
    """Keras' ReLU layer: x clipped to [0, max_value] above `threshold`, negative_slope * (x -
    threshold) below it. max(x, 0), relu6 (max_value=6) and leaky (negative_slope) run on the
    activation kernels; the other settings in numpy, on the Python path."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        for arg, value in (("max_value", max_value), ("negative_slope", negative_slope), ("threshold", threshold)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ValueError(f"ReLU: {arg} must be a number >= 0, got {value!r}")
        kernel = threshold == 0 and (max_value is None or (max_value == 6 and negative_slope == 0))
        name = "relu6" if max_value == 6 and kernel else "leaky_relu" if negative_slope and kernel else "relu"
        super().__init__(name, **kwargs)
        self._alpha = float(negative_slope)
        self._numpy = not kernel
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def forward(self, x, training):
        if not self._numpy:
            return super().forward(x, training)
        self._x = x
        return np.where(x > self.threshold, np.clip(x, 0, self.max_value),
                        (x - self.threshold) * x.dtype.type(self.negative_slope))

    def backward(self, dy, need_dx):
        if not self._numpy:
            return super().backward(dy, need_dx)
        x = self._x
        top = np.inf if self.max_value is None else self.max_value
        slope = np.where(x > self.threshold, ((x > 0) & (x < top)).astype(dy.dtype), dy.dtype.type(self.negative_slope))
        return dy * slope

    def engine_spec(self, offset_of):
        return None if self._numpy else super().engine_spec(offset_of)

    def get_config(self):
        return {**Layer.get_config(self), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(Activation):
    """Keras' LeakyReLU layer (its default slope is 0.3, the activation's 0.2)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__("leaky_relu", **kwargs)
        self._alpha = self.negative_slope = float(negative_slope)

    def get_config(self):
        return {**Layer.get_config(self), "negative_slope": self.negative_slope}


class ELU(Activation):
    def __init__(self, alpha=1.0, **kwargs):
        super().__init__("elu", **kwargs)
        self._alpha = self.alpha = float(alpha)

    def get_config(self):
        return {**Layer.get_config(self), "alpha": self.alpha}
