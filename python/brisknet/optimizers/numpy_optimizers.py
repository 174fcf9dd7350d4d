"""Keras' other optimizers (Adamax, Nadam, Adadelta, Lion) as numpy updates over the flat parameter
buffer, with Keras 3's update rules and defaults. They train on the Python path; Adam, AdamW, SGD,
RMSprop and Adagrad have C++ kernels."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer


class _Moments(Optimizer):
    """An optimizer with Adam's hyper-parameters beta_1, beta_2 and epsilon."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adamax(_Moments):
    """``m = b1 m + (1 - b1) g; u = max(b2 u, |g|); p -= lr m / ((1 - b1^t) (u + eps))``."""
    name = "adamax"
    _state_names = ("m", "u")

    def _build_state(self, size):
        self.m, self.u = self._state(size), self._state(size)

    def _update(self, params, grads, lr, step):
        self.m += (grads - self.m) * np.float32(1 - self.beta_1)
        np.maximum(self.u * np.float32(self.beta_2), np.abs(grads), out=self.u)
        params -= np.float32(lr / (1 - self.beta_1 ** step)) * self.m / (self.u + np.float32(self.epsilon))


class Nadam(_Moments):
    """Adam with Nesterov momentum, Keras' schedule of momentum decay (0.96 per step)."""
    name = "nadam"
    _state_names = ("m", "v")
    u_product = 1.0  # the running product of the momentum schedule (a Keras variable)

    def _build_state(self, size):
        self.m, self.v = self._state(size), self._state(size)
        self.u_product = 1.0

    def _update(self, params, grads, lr, step):
        b1, b2 = self.beta_1, self.beta_2
        u_t = b1 * (1.0 - 0.5 * 0.96 ** step)
        u_t1 = b1 * (1.0 - 0.5 * 0.96 ** (step + 1))
        u_product_t = self.u_product * u_t
        u_product_t1 = u_product_t * u_t1
        self.m += (grads - self.m) * np.float32(1 - b1)
        self.v += (grads * grads - self.v) * np.float32(1 - b2)
        m_hat = np.float32(u_t1 / (1 - u_product_t1)) * self.m + np.float32((1 - u_t) / (1 - u_product_t)) * grads
        v_hat = self.v / np.float32(1 - b2 ** step)
        params -= np.float32(lr) * m_hat / (np.sqrt(v_hat) + np.float32(self.epsilon))
        self.u_product = u_product_t


class Adadelta(Optimizer):
    """``acc_g = rho acc_g + (1 - rho) g^2; d = -sqrt(acc_d + eps) g / sqrt(acc_g + eps);
    acc_d = rho acc_d + (1 - rho) d^2; p += lr d``."""
    name = "adadelta"
    _state_names = ("accumulated_grad", "accumulated_delta_var")

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _build_state(self, size):
        self.accumulated_grad, self.accumulated_delta_var = self._state(size), self._state(size)

    def _update(self, params, grads, lr, step):
        rho, eps = np.float32(self.rho), np.float32(self.epsilon)
        self.accumulated_grad[...] = rho * self.accumulated_grad + (1 - rho) * grads * grads
        delta = -np.sqrt(self.accumulated_delta_var + eps) * grads / np.sqrt(self.accumulated_grad + eps)
        self.accumulated_delta_var[...] = rho * self.accumulated_delta_var + (1 - rho) * delta * delta
        params += np.float32(lr) * delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Lion(Optimizer):
    """``p -= lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g``."""
    name = "lion"
    _state_names = ("m",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Lion: beta_1 must be in (0, 1], got {beta_1}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def _build_state(self, size):
        self.m = self._state(size)

    def _update(self, params, grads, lr, step):
        b1, b2 = np.float32(self.beta_1), np.float32(self.beta_2)
        params -= np.float32(lr) * np.sign(self.m * b1 + grads * (1 - b1))
        self.m[...] = self.m * b2 + grads * (1 - b2)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
