from __future__ import annotations

from .. import _core
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """Keras RMSprop: ``v = rho v + (1 - rho) g^2; p -= lr g / sqrt(v + epsilon)`` (centered and
    momentum variants as Keras defines them)."""
    name = "rmsprop"
    _state_names = ('velocity', 'average_gradient', 'momentum_buffer')
    _kind = _core.OptimizerKind.rmsprop

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def _build_state(self, size):
        self.velocity = self._state(size)
        self.average_gradient = self._state(size) if self.centered else None
        self.momentum_buffer = self._state(size) if self.momentum > 0 else None

    def _describe(self, spec):
        spec.rho, spec.momentum, spec.epsilon = self.rho, self.momentum, self.epsilon

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
