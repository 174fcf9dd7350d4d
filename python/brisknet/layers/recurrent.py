"""Recurrent layers, as Keras 3's: LSTM over (batch, steps, features) sequences, and Bidirectional.

LSTM runs a whole sequence in one C++ call each way (kernels/recurrent.cpp): the input projection
of every step as one GEMM, one recurrent GEMM per step with the gates applied in place, and
backward through time with the weight gradients as one GEMM each over all steps."""
from __future__ import annotations

import numpy as np

from .. import _core, initializers, regularizers
from ..serialization import serialize
from .layer import Layer


class _ForgetBias(initializers.Initializer):
    """Keras' unit_forget_bias: the bias initializer's values, ones for the forget gate."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        u = self.units
        return np.concatenate([np.asarray(self.base((u,), dtype)), np.ones(u), np.asarray(self.base((2 * u,), dtype))])


class LSTM(Layer):
    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, use_cudnn="auto", zero_output_for_mask=False,
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"LSTM: units must be a positive int, got {units!r}")
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise NotImplementedError("LSTM: activations other than Keras' defaults (tanh, sigmoid) are not supported "
                                      "yet")
        if dropout or recurrent_dropout:
            raise NotImplementedError("LSTM: dropout and recurrent_dropout are not supported yet (a Dropout layer "
                                      "before it drops its inputs)")
        if return_state or stateful:
            raise NotImplementedError("LSTM: return_state and stateful are not supported yet")
        if any(c is not None for c in (kernel_constraint, recurrent_constraint, bias_constraint, activity_regularizer)):
            raise NotImplementedError("LSTM: constraints and activity_regularizer are not supported yet")
        self.units = int(units)
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        self.return_sequences, self.go_backwards = bool(return_sequences), bool(go_backwards)
        self.return_state, self.stateful, self.unroll, self.seed = False, False, bool(unroll), seed
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def sample_output_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"LSTM {self.name!r} expects sequences (steps, features) with known features, got "
                             f"{input_shape}")
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def weight_specs(self):
        u, d = self.units, self.input_shape[-1]
        bias_init = _ForgetBias(self.bias_initializer, u) if self.unit_forget_bias else self.bias_initializer
        specs = [("kernel", (d, 4 * u), self.kernel_initializer),
                 ("recurrent_kernel", (u, 4 * u), self.recurrent_initializer)]
        return specs + ([("bias", (4 * u,), bias_init)] if self.use_bias else [])

    def weight_regularizers(self):
        regs = (self.kernel_regularizer, self.recurrent_regularizer, self.bias_regularizer if self.use_bias else None)
        return [(i, r) for i, r in enumerate(regs) if r is not None]

    def forward(self, x, training):
        x = np.ascontiguousarray(x)
        b, steps, _ = x.shape
        u, dt = self.units, x.dtype
        kernel, recurrent = self._weights[0], self._weights[1]
        bias = self._weights[2] if self.use_bias else None
        zeros = self.buffer("h0", (b, u), dt)
        zeros[...] = 0
        hs, cs = self.buffer("hs", (b, steps, u), dt), self.buffer("cs", (b, steps, u), dt)
        gates, h_prev = self.buffer("gates", (b, steps, 4 * u), dt), self.buffer("h_prev", (b, steps, u), dt)
        _core.lstm_forward(hs, cs, gates, h_prev, x, kernel, recurrent, bias, zeros, zeros, self.go_backwards)
        self._x, self._run = x, (hs, cs, gates, h_prev, zeros)
        return hs if self.return_sequences else np.ascontiguousarray(hs[:, -1])

    def backward(self, dy, need_dx):
        hs, cs, gates, h_prev, zeros = self._run
        b, steps, u = hs.shape
        dhs = self.buffer("dhs", hs.shape, hs.dtype)
        if self.return_sequences:
            dhs[...] = dy
        else:
            dhs[...] = 0
            dhs[:, -1] = dy
        dh0, dc0 = self.buffer("dh0", (b, u), hs.dtype), self.buffer("dc0", (b, u), hs.dtype)
        dx = self.buffer("dx", self._x.shape, hs.dtype) if need_dx else None
        _core.lstm_backward(dx, self._grads[0], self._grads[1], self._grads[2] if self.use_bias else None, dh0, dc0,
                            gates, dhs, cs, h_prev, self._x, self._weights[0], self._weights[1], zeros,
                            self.go_backwards)
        return dx

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": "tanh", "recurrent_activation": "sigmoid",
                "use_bias": self.use_bias, "kernel_initializer": serialize(self.kernel_initializer),
                "recurrent_initializer": serialize(self.recurrent_initializer),
                "bias_initializer": serialize(self.bias_initializer), "unit_forget_bias": self.unit_forget_bias,
                "kernel_regularizer": serialize(self.kernel_regularizer),
                "recurrent_regularizer": serialize(self.recurrent_regularizer),
                "bias_regularizer": serialize(self.bias_regularizer), "dropout": 0.0, "recurrent_dropout": 0.0,
                "return_sequences": self.return_sequences, "return_state": False, "go_backwards": self.go_backwards,
                "stateful": False, "unroll": self.unroll, "seed": self.seed}


class Bidirectional(Layer):
    """keras.layers.Bidirectional(layer, merge_mode='concat', backward_layer=None): the layer, and
    a copy of it (or backward_layer) reading the sequence backwards, their outputs merged (the
    backward one's sequence turned back to the input's order first, as Keras)."""

    MERGES = ("concat", "sum", "mul", "ave")

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        layer, backward_layer = (_lstm_from(v) if isinstance(v, dict) else v for v in (layer, backward_layer))
        if not isinstance(layer, LSTM):
            raise NotImplementedError(f"Bidirectional: wraps an LSTM for now, got {type(layer).__name__}")
        if merge_mode not in self.MERGES:
            raise (NotImplementedError if merge_mode is None else ValueError)(
                f"Bidirectional: merge_mode must be one of {self.MERGES}, got {merge_mode!r}")
        if weights is not None:
            raise NotImplementedError("Bidirectional: weights= is not supported; use set_weights")
        super().__init__(**{"name": kwargs.pop("name", None) or f"bidirectional_{layer.name}", **kwargs})
        config = layer.get_config()
        self.forward_layer = LSTM(**{**config, "name": "forward_" + layer.name})
        if backward_layer is None:
            backward_layer = LSTM(**{**config, "name": "backward_" + layer.name, "go_backwards": not layer.go_backwards})
        elif not isinstance(backward_layer, LSTM) or backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("Bidirectional: backward_layer must be an LSTM reading the other way (go_backwards)")
        self.backward_layer, self.merge_mode = backward_layer, merge_mode
        self.return_sequences = layer.return_sequences

    def _layers_pair(self):
        return self.forward_layer, self.backward_layer

    def sample_output_shape(self, input_shape):
        shape = self.forward_layer.sample_output_shape(input_shape)
        return shape[:-1] + (2 * shape[-1],) if self.merge_mode == "concat" else shape

    def build_sample(self, sample_shape):
        for layer in self._layers_pair():
            layer.build_sample(sample_shape)
        super().build_sample(sample_shape)

    def create_own_weights(self):
        for layer in self._layers_pair():
            layer.create_own_weights()

    def _weight_holders(self):
        return list(self._layers_pair())

    weights = property(lambda self: [w for l in self._layers_pair() for w in l.weights])
    trainable_weights = property(lambda self: [w for l in self._layers_pair() for w in l.trainable_weights])
    non_trainable_weights = property(lambda self: [w for l in self._layers_pair() for w in l.non_trainable_weights])

    def get_weights(self):
        return [w for l in self._layers_pair() for w in l.get_weights()]

    def set_weights(self, weights):
        weights = list(weights)
        n = len(self.forward_layer.get_weights())
        self.forward_layer.set_weights(weights[:n])
        self.backward_layer.set_weights(weights[n:])

    def forward(self, x, training):
        yf = self.forward_layer.forward(x, training)
        yb = self.backward_layer.forward(x, training)
        if self.return_sequences:
            yb = yb[:, ::-1]
        self._outs = (yf, yb)
        if self.merge_mode == "concat":
            return np.concatenate([yf, yb], axis=-1)
        if self.merge_mode == "sum":
            return yf + yb
        if self.merge_mode == "mul":
            return yf * yb
        return (yf + yb) / 2

    def backward(self, dy, need_dx):
        yf, yb = self._outs
        if self.merge_mode == "concat":
            u = yf.shape[-1]
            dyf, dyb = dy[..., :u], dy[..., u:]
        elif self.merge_mode == "sum":
            dyf = dyb = dy
        elif self.merge_mode == "mul":
            dyf, dyb = dy * yb, dy * yf
        else:
            dyf = dyb = dy / 2
        if self.return_sequences:
            dyb = dyb[:, ::-1]
        dxf = self.forward_layer.backward(np.ascontiguousarray(dyf), need_dx)
        dxb = self.backward_layer.backward(np.ascontiguousarray(dyb), need_dx)
        return dxf + dxb if need_dx else None

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": {"module": "keras.layers", "class_name": "LSTM", "registered_name": None,
                          "config": {**self.forward_layer.get_config(),
                                     "name": self.forward_layer.name[len("forward_"):]}}}


def _lstm_from(entry):
    """An LSTM from its entry in a Bidirectional's config (Keras' or ours): its own arguments only."""
    import inspect
    config = entry.get("config") if isinstance(entry, dict) else None
    if entry.get("class_name") != "LSTM" or not isinstance(config, dict):
        raise ValueError(f"Bidirectional: the wrapped layer must be an LSTM's config, got {str(entry)[:80]!r}")
    known = set(inspect.signature(LSTM.__init__).parameters) | {"name"}
    args = {k: v for k, v in config.items() if k in known}
    for key in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
        if isinstance(args.get(key), dict):
            args[key] = initializers.deserialize(args[key])
    for key in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer"):
        if isinstance(args.get(key), dict):
            args[key] = regularizers.deserialize(args[key])
    return LSTM(**args)
