from __future__ import annotations

from .. import _core, activations, kernels
from .layer import Layer


class Activation(Layer):
    """Applies an activation function by Keras name (no weights)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._act = kernels.ACTIVATIONS[self.activation]
        self._alpha = kernels.DEFAULT_ALPHA.get(self.activation, 0.0)
        self.fused_logits = False

    def forward(self, x, training):
        self._x = x
        self._y = self.buffer("y", x.shape)
        _core.activation_forward(self._y, x, self._act, self._alpha)
        return self._y

    @property
    def logits(self):
        return self._x

    def backward(self, dy, need_dx):
        if self.fused_logits or self.activation == "linear":
            return dy
        dx = self.buffer("dx", dy.shape)
        _core.activation_backward(dx, dy, self._x, self._y, self._act, self._alpha)
        return dx

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}
