from __future__ import annotations

from .. import _core
from .optimizer import Optimizer


class SGD(Optimizer):
    """Keras SGD: ``v = momentum * v - lr * g; p += v`` (Nesterov: ``p += momentum * v - lr * g``)."""
    name = "SGD"
    _state_names = ('velocity',)
    _kind = _core.OptimizerKind.sgd

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _build_state(self, size):
        self.velocity = self._state(size) if self.momentum > 0 else None

    def _describe(self, spec):
        spec.momentum, spec.nesterov = self.momentum, self.nesterov

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
