"""Keras' other optimizers (Adamax, Nadam, Adadelta, Lion), with Keras 3's update rules and
defaults; their rules are C++ kernels (cpp/kernels/optimizer_rules.h) like the others'."""
from __future__ import annotations

from .. import _core
from .optimizer import Optimizer


class _Moments(Optimizer):
    """An optimizer with Adam's hyper-parameters beta_1, beta_2 and epsilon."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _describe(self, spec):
        spec.beta_1, spec.beta_2, spec.epsilon = self.beta_1, self.beta_2, self.epsilon

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adamax(_Moments):
    """``m = b1 m + (1 - b1) g; u = max(b2 u, |g|); p -= lr m / ((1 - b1^t) (u + eps))``."""
    name = "adamax"
    _state_names = ("m", "u")
    _kind = _core.OptimizerKind.adamax

    def _build_state(self, size):
        self.m, self.u = self._state(size), self._state(size)



class Nadam(_Moments):
    """Adam with Nesterov momentum, Keras' schedule of momentum decay (0.96 per step)."""
    name = "nadam"
    _state_names = ("m", "v")
    _kind = _core.OptimizerKind.nadam
    u_product = 1.0  # the running product of the momentum schedule (a Keras variable)

    def _build_state(self, size):
        self.m, self.v = self._state(size), self._state(size)
        self.u_product = 1.0

    def _describe(self, spec):
        super()._describe(spec)
        spec.u_product = self.u_product

    def finish_steps(self, spec):
        super().finish_steps(spec)
        self.u_product = spec.u_product



class Adadelta(Optimizer):
    """``acc_g = rho acc_g + (1 - rho) g^2; d = -sqrt(acc_d + eps) g / sqrt(acc_g + eps);
    acc_d = rho acc_d + (1 - rho) d^2; p += lr d``."""
    name = "adadelta"
    _state_names = ("accumulated_grad", "accumulated_delta_var")
    _kind = _core.OptimizerKind.adadelta

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _build_state(self, size):
        self.accumulated_grad, self.accumulated_delta_var = self._state(size), self._state(size)


    def _describe(self, spec):
        spec.rho, spec.epsilon = self.rho, self.epsilon

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Lion(Optimizer):
    """``p -= lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g``."""
    name = "lion"
    _state_names = ("m",)
    _kind = _core.OptimizerKind.lion

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Lion: beta_1 must be in (0, 1], got {beta_1}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def _build_state(self, size):
        self.m = self._state(size)


    def _describe(self, spec):
        spec.beta_1, spec.beta_2 = self.beta_1, self.beta_2

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
