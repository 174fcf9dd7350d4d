"""BatchNormalization and LayerNormalization, with Keras 3's arguments, defaults and weights
(gamma, beta; BatchNormalization also moving_mean and moving_variance, never trained). Both
normalise along the last axis. Forward and backward are C++ kernels (float32, or float64 for
gradient checks), the same the engine runs."""
from __future__ import annotations

import math

import numpy as np

from .. import _core, initializers, regularizers
from ..serialization import serialize
from .layer import Layer


def _last_axis_only(axis, name):
    if axis not in (-1, [-1], (-1,)):
        raise NotImplementedError(f"{name}: only axis=-1 (the features, Keras' default) is supported, got "
                                  f"axis={axis!r}")


class _Affine(Layer):
    """gamma (scale=True) and beta (center=True) per feature, their initializers and penalties."""
    _MASKING = True  # (Keras: supports_masking)

    def __init__(self, center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                 epsilon, **kwargs):
        for arg in ("beta_constraint", "gamma_constraint"):
            if kwargs.pop(arg, None) is not None:
                raise NotImplementedError(f"{type(self).__name__}: {arg} is not supported")
        super().__init__(**kwargs)
        if not (isinstance(epsilon, (int, float)) and epsilon > 0):
            raise ValueError(f"{type(self).__name__}: epsilon must be a positive number, got {epsilon!r}")
        self.center, self.scale, self.epsilon = bool(center), bool(scale), float(epsilon)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def affine_specs(self):
        n = self.input_shape[-1]
        specs = [("gamma", (n,), self.gamma_initializer)] if self.scale else []
        return specs + ([("beta", (n,), self.beta_initializer)] if self.center else [])

    def _gamma_beta(self, dtype=None):
        """(gamma or None, beta or None): views of the weights."""
        i, gamma, beta = 0, None, None
        if self.scale:
            gamma, i = self._weights[0], 1
        if self.center:
            beta = self._weights[i]
        return gamma, beta

    def _gamma_beta_grads(self):
        i, dgamma, dbeta = 0, None, None
        if self.scale:
            dgamma, i = self._grads[0], 1
        if self.center:
            dbeta = self._grads[i]
        return dgamma, dbeta

    def _rows(self, a):
        """A batch as (rows, features): the features are the last axis."""
        return np.ascontiguousarray(a).reshape(-1, a.shape[-1])

    def weight_regularizers(self):
        out, i = [], 0
        if self.scale:
            if self.gamma_regularizer is not None:
                out.append((0, self.gamma_regularizer))
            i = 1
        if self.center and self.beta_regularizer is not None:
            out.append((i, self.beta_regularizer))
        return out

    def get_config(self):
        return {**super().get_config(), "axis": -1, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": serialize(self.beta_initializer),
                "gamma_initializer": serialize(self.gamma_initializer),
                "beta_regularizer": serialize(self.beta_regularizer),
                "gamma_regularizer": serialize(self.gamma_regularizer)}


class BatchNormalization(_Affine):
    """While training (and trainable): each feature normalised by the batch's mean and (biased)
    variance over all other axes, and the moving statistics updated:
    moving = moving * momentum + batch statistic * (1 - momentum). Otherwise (inference, or a
    frozen layer, as Keras 3): the moving statistics normalise. y = (x - mean) / sqrt(var + eps) *
    gamma + beta."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, synchronized=False, **kwargs):
        _last_axis_only(axis, "BatchNormalization")
        if kwargs.pop("renorm", False):
            raise NotImplementedError("BatchNormalization: renorm is not supported")
        for arg in ("renorm_clipping", "renorm_momentum"):
            kwargs.pop(arg, None)
        super().__init__(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         epsilon, **kwargs)
        if not (isinstance(momentum, (int, float)) and 0 <= momentum <= 1):
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        self.axis, self.momentum, self.synchronized = -1, float(momentum), bool(synchronized)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def weight_specs(self):
        n = self.input_shape[-1]
        return self.affine_specs() + [("moving_mean", (n,), self.moving_mean_initializer),
                                      ("moving_variance", (n,), self.moving_variance_initializer)]

    def trainable_mask(self):
        return [self.trains] * len(self.affine_specs()) + [False, False]

    def forward(self, x, training):
        features = x.shape[-1]
        self._x = self._rows(x)
        self._batch_stats = bool(training and self.trainable)
        self._mean = self.buffer("mean", (features,), x.dtype)
        self._inv = self.buffer("inv", (features,), x.dtype)
        y = self.buffer("y", x.shape, x.dtype)
        gamma, beta = self._gamma_beta()
        _core.batch_norm_forward(y.reshape(-1, features), self._mean, self._inv, self._x, gamma, beta,
                                 self._weights[-2], self._weights[-1], self.momentum, self.epsilon, self._batch_stats)
        return y

    def backward(self, dy, need_dx):
        dgamma, dbeta = self._gamma_beta_grads()
        dx = self.buffer("dx", dy.shape, dy.dtype) if need_dx else None
        _core.batch_norm_backward(None if dx is None else dx.reshape(self._x.shape), dgamma, dbeta, self._rows(dy),
                                  self._x, self._mean, self._inv, self._gamma_beta()[0], self._batch_stats)
        return dx

    def engine_spec(self, offset_of):
        if self.weight_regularizers():
            return None  # (penalties on gamma/beta: the Python path)
        s = _core.LayerSpec()
        size = math.prod(self.input_shape)
        s.kind, s.inputs, s.outputs = _core.LayerKind.batch_norm, size, size
        if len(self.input_shape) > 1:
            s.channels = self.input_shape[-1]  # (statistics per channel, over every position)
        gamma, beta = self._gamma_beta()
        s.kernel_offset = offset_of(gamma) if gamma is not None else -1  # gamma
        s.bias_offset = offset_of(beta) if beta is not None else -1      # beta
        s.stats_offset = offset_of(self._weights[-2])                    # moving mean, then moving variance
        s.momentum, s.epsilon, s.trainable = self.momentum, self.epsilon, self.trainable
        return [s]

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "synchronized": self.synchronized,
                "moving_mean_initializer": serialize(self.moving_mean_initializer),
                "moving_variance_initializer": serialize(self.moving_variance_initializer)}


class LayerNormalization(_Affine):
    """Each sample's features (the last axis) normalised by their own mean and variance:
    y = (x - mean) / sqrt(var + eps) * gamma + beta, the same in training and inference."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        _last_axis_only(axis, "LayerNormalization")
        if kwargs.pop("rms_scaling", False):
            raise NotImplementedError("LayerNormalization: rms_scaling is not supported (deprecated in Keras)")
        super().__init__(center, scale, beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer,
                         epsilon, **kwargs)
        self.axis = -1

    def weight_specs(self):
        return self.affine_specs()

    def forward(self, x, training):
        self._x = self._rows(x)
        rows = self._x.shape[0]
        self._mean = self.buffer("mean", (rows,), x.dtype)
        self._inv = self.buffer("inv", (rows,), x.dtype)
        y = self.buffer("y", x.shape, x.dtype)
        gamma, beta = self._gamma_beta()
        _core.layer_norm_forward(y.reshape(self._x.shape), self._mean, self._inv, self._x, gamma, beta, self.epsilon)
        return y

    def backward(self, dy, need_dx):
        dgamma, dbeta = self._gamma_beta_grads()
        dx = self.buffer("dx", dy.shape, dy.dtype) if need_dx else None
        _core.layer_norm_backward(None if dx is None else dx.reshape(self._x.shape), dgamma, dbeta, self._rows(dy),
                                  self._x, self._mean, self._inv, self._gamma_beta()[0])
        return dx

    def engine_spec(self, offset_of):
        if self.weight_regularizers() or len(self.input_shape) != 1:
            return None
        s = _core.LayerSpec()
        s.kind, s.inputs, s.outputs = _core.LayerKind.layer_norm, self.input_shape[0], self.input_shape[0]
        gamma, beta = self._gamma_beta()
        s.kernel_offset = offset_of(gamma) if gamma is not None else -1
        s.bias_offset = offset_of(beta) if beta is not None else -1
        s.epsilon, s.trainable = self.epsilon, self.trains
        return [s]

    def get_config(self):
        return {**super().get_config(), "rms_scaling": False}
