from __future__ import annotations

import math

from .. import _core, activations, kernels
from .layer import Layer


class Activation(Layer):
    """Applies an activation function by Keras name (no weights)."""
    _MASKING = True  # (Keras: supports_masking)

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
    """Keras' ReLU layer: max(x, 0), or relu6 with max_value=6, or leaky with negative_slope."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        if threshold != 0 or (max_value is not None and max_value != 6) or \
                (negative_slope != 0 and max_value is not None):
            raise NotImplementedError("ReLU: supported are ReLU(), ReLU(max_value=6) and ReLU(negative_slope=a)")
        if negative_slope < 0:
            raise ValueError(f"ReLU: negative_slope must be >= 0, got {negative_slope}")
        name = "relu6" if max_value == 6 else "leaky_relu" if negative_slope else "relu"
        super().__init__(name, **kwargs)
        self._alpha = float(negative_slope)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

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
