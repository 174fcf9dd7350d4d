from __future__ import annotations

import numpy as np

from .. import _core
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Keras Adagrad: ``acc += g^2; p -= lr g / sqrt(acc + epsilon)``, acc starting at 0.1."""
    name = "adagrad"
    _state_names = ('accumulator',)
    _kind = _core.OptimizerKind.adagrad

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), float(epsilon)

    def _build_state(self, size):
        self.accumulator = np.full(size, self.initial_accumulator_value, np.float32)

    def _describe(self, spec):
        spec.epsilon = self.epsilon

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
