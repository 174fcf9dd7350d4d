"""BatchNormalization and LayerNormalization, with Keras 3's arguments, defaults and weights
(gamma, beta; BatchNormalization also moving_mean and moving_variance, never trained). Both
normalise along the last axis. Forward and backward in numpy, in the input's dtype (float64 for
gradient checks)."""
from __future__ import annotations

import math

import numpy as np

from .. import initializers, regularizers
from ..serialization import serialize
from .layer import Layer


def _last_axis_only(axis, name):
    if axis not in (-1, [-1], (-1,)):
        raise NotImplementedError(f"{name}: only axis=-1 (the features, Keras' default) is supported, got "
                                  f"axis={axis!r}")


class _Affine(Layer):
    """gamma (scale=True) and beta (center=True) per feature, their initializers and penalties."""

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

    def _gamma_beta(self, dtype):
        n, i = self.input_shape[-1], 0
        gamma = beta = None
        if self.scale:
            gamma, i = self._weights[0], 1
        if self.center:
            beta = self._weights[i]
        return (np.ones(n, dtype) if gamma is None else gamma), (np.zeros(n, dtype) if beta is None else beta)

    def _affine_grads(self, dy, xhat, axes):
        """d(loss)/d(gamma) and d(loss)/d(beta) into the gradient buffer."""
        i = 0
        if self.scale:
            self._grads[0][...] = (dy * xhat).sum(axis=axes)
            i = 1
        if self.center:
            self._grads[i][...] = dy.sum(axis=axes)

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
        axes = tuple(range(x.ndim - 1))
        gamma, beta = self._gamma_beta(x.dtype)
        moving_mean, moving_var = self._weights[-2], self._weights[-1]
        self._batch_stats = training and self.trainable
        if self._batch_stats:
            mean = x.mean(axis=axes)
            centered = x - mean
            var = np.square(centered).mean(axis=axes)
            moving_mean[...] = moving_mean * self.momentum + mean * (1.0 - self.momentum)
            moving_var[...] = moving_var * self.momentum + var * (1.0 - self.momentum)
        else:
            mean, var = moving_mean.astype(x.dtype), moving_var.astype(x.dtype)
            centered = x - mean
        self._inv = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        self._xhat = centered * self._inv
        self._gamma = gamma
        return self._xhat * gamma + beta

    def backward(self, dy, need_dx):
        axes = tuple(range(dy.ndim - 1))
        self._affine_grads(dy, self._xhat, axes)
        if not need_dx:
            return None
        dxhat = dy * self._gamma
        if not self._batch_stats:  # constants normalised it
            return dxhat * self._inv
        n = math.prod(dy.shape[:-1])
        return self._inv / n * (n * dxhat - dxhat.sum(axis=axes) - self._xhat * (dxhat * self._xhat).sum(axis=axes))

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
        gamma, beta = self._gamma_beta(x.dtype)
        centered = x - x.mean(axis=-1, keepdims=True)
        var = np.square(centered).mean(axis=-1, keepdims=True)
        self._inv = 1.0 / np.sqrt(var + x.dtype.type(self.epsilon))
        self._xhat = centered * self._inv
        self._gamma = gamma
        return self._xhat * gamma + beta

    def backward(self, dy, need_dx):
        self._affine_grads(dy, self._xhat, tuple(range(dy.ndim - 1)))
        if not need_dx:
            return None
        dxhat = dy * self._gamma
        n = dy.shape[-1]
        return self._inv / n * (n * dxhat - dxhat.sum(axis=-1, keepdims=True)
                                - self._xhat * (dxhat * self._xhat).sum(axis=-1, keepdims=True))

    def get_config(self):
        return {**super().get_config(), "rms_scaling": False}
