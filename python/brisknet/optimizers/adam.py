from __future__ import annotations

from .. import _core
from .optimizer import Optimizer


class Adam(Optimizer):
    """Keras Adam: ``lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``,
    ``p -= lr_t * m / (sqrt(v) + epsilon)``; AMSGrad keeps the running max of v."""
    name = "adam"
    _state_names = ('m', 'v', 'vhat')
    _kind = _core.OptimizerKind.adam

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _build_state(self, size):
        self.m = self._state(size)
        self.v = self._state(size)
        self.vhat = self._state(size) if self.amsgrad else None

    def _describe(self, spec):
        spec.beta_1, spec.beta_2, spec.epsilon = self.beta_1, self.beta_2, self.epsilon

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}
