from __future__ import annotations

import math

from .. import _core
from .optimizer import Optimizer


class Adam(Optimizer):
    """Keras Adam: ``lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``,
    ``p -= lr_t * m / (sqrt(v) + epsilon)``; AMSGrad keeps the running max of v."""
    name = "adam"
    _state_names = ('m', 'v', 'vhat')

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)

    _decays_in_kernel = True  # the kernel applies p -= lr * weight_decay * p first, as Keras does

    def _build_state(self, size):
        self.m = self._state(size)
        self.v = self._state(size)
        self.vhat = self._state(size) if self.amsgrad else None

    def _update(self, params, grads, lr, step):
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** step) / (1.0 - self.beta_1 ** step)
        decay = lr * (self.weight_decay or 0.0)
        _core.adam_step(params, self.m, self.v, self.vhat, grads, alpha, self.beta_1, self.beta_2,
                        self.epsilon, decay)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}
