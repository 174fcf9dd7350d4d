from __future__ import annotations

import numpy as np

from .. import _core, activations, constraints, initializers, kernels, regularizers
from .layer import Layer


class Dense(Layer):
    """``y = activation(x @ kernel + bias)`` with kernel of shape (input_dim, units), as Keras: on
    the last axis of inputs of any rank (a (steps, features) sample is steps rows of one GEMM).

    Forward is one GEMM with the bias added in its epilogue, then the activation; backward computes
    dW = x^T dz, db = column sums of dz and dx = dz W^T, reading x and W in place (no transposes)."""
    _MASKING = True  # (Keras: supports_masking)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units < 1:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._act = kernels.ACTIVATIONS[self.activation]
        self._alpha = kernels.DEFAULT_ALPHA.get(self.activation, 0.0)
        self.fused_logits = False  # set by the model when the loss takes the pre-activation

    def sample_output_shape(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"Dense {self.name!r} needs inputs whose last dimension is known, got {input_shape}")
        return tuple(input_shape[:-1]) + (self.units,)

    @property
    def _input_dim(self) -> int:
        return self.input_shape[-1]

    def weight_specs(self):
        specs = [("kernel", (self._input_dim, self.units), self.kernel_initializer)]
        if self.use_bias:
            specs.append(("bias", (self.units,), self.bias_initializer))
        return specs

    @property
    def kernel(self):
        """Keras' kernel variable (np.asarray(layer.kernel) or .numpy() for the array)."""
        return self.weights[0]

    @property
    def bias(self):
        return self.weights[1] if self.use_bias else None

    def forward(self, x, training):
        self._batch_shape = x.shape[:-1]  # rows: every position of every sample
        x = x.reshape(-1, x.shape[-1])
        b = x.shape[0]
        z = self.buffer("z", (b, self.units), x.dtype)
        _core.gemm(z, x, self._weights[0], False, False, 0.0, self._weights[1] if self.use_bias else None,
                   bf16=self._bf16)
        self._x, self._z = x, z
        if self.activation == "linear":
            self._y = z
        else:
            self._y = self.buffer("y", (b, self.units), x.dtype)
            _core.activation_forward(self._y, z, self._act, self._alpha)
        return self._y.reshape(self._batch_shape + (self.units,))

    @property
    def logits(self):
        """The pre-activation of the last forward pass."""
        return self._z

    def backward(self, dy, need_dx):
        dy = dy.reshape(-1, self.units)
        b = dy.shape[0]
        if self.activation == "linear" or self.fused_logits:
            dz = dy  # fused: dy is already the gradient w.r.t. the pre-activation
        else:
            dz = self.buffer("dz", (b, self.units), dy.dtype)
            _core.activation_backward(dz, dy, self._z, self._y, self._act, self._alpha)
        _core.gemm(self._grads[0], self._x, dz, True, False, 0.0, bf16=self._bf16)
        if self.use_bias:
            _core.column_sums(self._grads[1], dz, 0.0)
        if not need_dx:
            return None
        dx = self.buffer("dx", (b, self._input_dim), dy.dtype)
        _core.gemm(dx, dz, self._weights[0], False, True, 0.0, bf16=self._bf16)
        return dx.reshape(self._batch_shape + (self._input_dim,))

    def regularization_loss(self):
        total = 0.0
        if self.kernel_regularizer is not None:
            total += self.kernel_regularizer(self._weights[0])
        if self.bias_regularizer is not None and self.use_bias:
            total += self.bias_regularizer(self._weights[1])
        return total

    def add_regularization_gradient(self):
        if self.kernel_regularizer is not None:
            self.kernel_regularizer.add_gradient(self._grads[0], self._weights[0])
        if self.bias_regularizer is not None and self.use_bias:
            self.bias_regularizer.add_gradient(self._grads[1], self._weights[1])

    def weight_constraints(self):
        out = [] if self.kernel_constraint is None else [(0, self.kernel_constraint)]
        return out + ([(1, self.bias_constraint)] if self.use_bias and self.bias_constraint is not None else [])

    def engine_spec(self, offset_of):
        penalties = regularizers.engine_penalties(self.kernel_regularizer, self.bias_regularizer)
        if penalties is None or len(self.input_shape) != 1:
            return None  # a custom regularizer, or rows per sample: the Python path
        s = _core.LayerSpec()
        s.kind, s.inputs, s.outputs = _core.LayerKind.dense, self._input_dim, self.units
        s.kernel_offset = offset_of(self._weights[0])
        s.bias_offset = offset_of(self._weights[1]) if self.use_bias else -1
        s.activation, s.alpha, s.trainable = self._act, self._alpha, self.trains
        s.kernel_penalty, s.bias_penalty = penalties
        s.bf16 = self._bf16
        return [s]

    def get_config(self):
        def ser(obj):
            return None if obj is None else {"class_name": type(obj).__name__, "config": obj.get_config()}
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": ser(self.kernel_initializer),
                "bias_initializer": ser(self.bias_initializer),
                "kernel_regularizer": ser(self.kernel_regularizer),
                "bias_regularizer": ser(self.bias_regularizer),
                "kernel_constraint": ser(self.kernel_constraint), "bias_constraint": ser(self.bias_constraint)}
