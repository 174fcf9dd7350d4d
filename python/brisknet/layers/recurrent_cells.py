"""Keras 3's recurrent cells: SimpleRNNCell, LSTMCell and GRUCell, one step each, written with
keras.ops. keras.layers.RNN runs a cell over a sequence; for these three (with their default
activations) it runs the whole sequence as one fused C++ op instead (layers/recurrent.py), and
the step below is what a user's own code calls (and what RNN steps with recurrent_dropout)."""
from __future__ import annotations

import numpy as np

from .. import activations, constraints, initializers, ops, random as random_module, regularizers
from ..serialization import serialize
from .layer import Layer, sublayer_entry


def _positive_units(cls, units):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
        raise ValueError(f"{cls}: units must be a positive int, got {units!r}")
    return int(units)


class _ForgetBias(initializers.Initializer):
    """Keras' unit_forget_bias: the bias initializer's values, ones for the forget gate."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        u = self.units
        return np.concatenate([np.asarray(self.base((u,), dtype)), np.ones(u), np.asarray(self.base((2 * u,), dtype))])


class _Cell(Layer):
    """What the three cells share: units, activations, initializers, regularizers, constraints,
    dropout rates, and their weights kernel, recurrent_kernel and bias."""

    GATES = 1  # the gate width in units

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(**kwargs)
        self.units = _positive_units(type(self).__name__, units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        for what, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= float(rate) < 1:
                raise ValueError(f"{type(self).__name__}: {what} must be in [0, 1), got {rate!r}")
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.seed = seed
        self._seed_generator = random_module.SeedGenerator(seed) if self.dropout or self.recurrent_dropout else None

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (self.GATES * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"layer {self.name!r}: the inputs' last axis must be known, got {input_shape}")
        g = self.GATES * self.units
        self.kernel = self.add_weight(shape=(features, g), name="kernel", initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(shape=(self.units, g), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        self.bias = self.add_weight(shape=self._bias_shape(), name="bias", initializer=self._bias_initializer(),
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def _act(self, x):
        return getattr(activations, self.activation)(x)

    def _recurrent_act(self, x):
        return getattr(activations, self.recurrent_activation)(x)

    def _dropped(self, x, which, training):
        """Keras' DropoutRNNCell: the step's inputs (which="dropout") or previous state
        ("recurrent_dropout") dropped, by the mask drawn once for the whole sequence when RNN runs
        the cell (sequence_masks), else by a new one."""
        rate = getattr(self, which)
        if not (rate and training):
            return x
        mask = self.__dict__.get("_sequence_masks", {}).get(which)
        if mask is None:
            return random_module.dropout(x, rate, seed=self._seed_generator)
        return x * mask

    def dropout_mask(self, like, which):
        """A mask of ones dropped at `which`'s rate (scaled by 1 / (1 - rate)), the shape of `like`."""
        return random_module.dropout(ops.ones_like(like), getattr(self, which), seed=self._seed_generator)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation), "use_bias": self.use_bias,
                "kernel_initializer": serialize(self.kernel_initializer),
                "recurrent_initializer": serialize(self.recurrent_initializer),
                "bias_initializer": serialize(self.bias_initializer),
                "kernel_regularizer": serialize(self.kernel_regularizer),
                "recurrent_regularizer": serialize(self.recurrent_regularizer),
                "bias_regularizer": serialize(self.bias_regularizer),
                "kernel_constraint": serialize(self.kernel_constraint),
                "recurrent_constraint": serialize(self.recurrent_constraint),
                "bias_constraint": serialize(self.bias_constraint), "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}


def _first(states):
    return states[0] if isinstance(states, (list, tuple)) else states


class SimpleRNNCell(_Cell):
    """keras.layers.SimpleRNNCell: h = activation(x W + b + h' U)."""

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation, "sigmoid", use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                         **kwargs)

    def call(self, sequence, states, training=False):
        h_prev = self._dropped(_first(states), "recurrent_dropout", training)
        z = ops.matmul(self._dropped(sequence, "dropout", training), self.kernel)
        if self.use_bias:
            z = z + self.bias
        h = self._act(z + ops.matmul(h_prev, self.recurrent_kernel))
        return h, ([h] if isinstance(states, (list, tuple)) else h)

    def get_config(self):
        config = super().get_config()
        del config["recurrent_activation"]
        return config


class LSTMCell(_Cell):
    """keras.layers.LSTMCell: gates i, f, c, o; c = f c' + i activation(.), h = o activation(c);
    states [h, c]."""

    GATES = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                         **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initializer(self):
        return _ForgetBias(self.bias_initializer, self.units) if self.unit_forget_bias else self.bias_initializer

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        h_prev = self._dropped(h_prev, "recurrent_dropout", training)
        z = ops.matmul(self._dropped(inputs, "dropout", training), self.kernel) + \
            ops.matmul(h_prev, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        zi, zf, zc, zo = ops.split(z, 4, axis=-1)
        i, f, o = self._recurrent_act(zi), self._recurrent_act(zf), self._recurrent_act(zo)
        c = f * c_prev + i * self._act(zc)
        h = o * self._act(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """keras.layers.GRUCell: gates z, r, h. reset_after=True (Keras 3's default): the recurrent
    projection has its own bias (bias: (2, 3 units)) and the reset gate scales it; False (Keras
    2's formulation): the reset gate scales the state before its candidate projection (bias: (3
    units)), a step the fused sequence op does not take (such a GRU steps this call)."""

    GATES = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                         **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        if not self.reset_after:
            return self._call_reset_before(inputs, states, training)
        h_prev = _first(states)
        x = ops.matmul(self._dropped(inputs, "dropout", training), self.kernel)
        inner = ops.matmul(self._dropped(h_prev, "recurrent_dropout", training), self.recurrent_kernel)
        if self.use_bias:
            x, inner = x + self.bias[0], inner + self.bias[1]
        xz, xr, xh = ops.split(x, 3, axis=-1)
        rz, rr, rh = ops.split(inner, 3, axis=-1)
        z, r = self._recurrent_act(xz + rz), self._recurrent_act(xr + rr)
        hh = self._act(xh + r * rh)
        h = z * h_prev + (1.0 - z) * hh
        return h, ([h] if isinstance(states, (list, tuple)) else h)

    def _call_reset_before(self, inputs, states, training):
        h_prev = _first(states)
        x = ops.matmul(self._dropped(inputs, "dropout", training), self.kernel)
        if self.use_bias:
            x = x + self.bias
        xz, xr, xh = ops.split(x, 3, axis=-1)
        h_dropped = self._dropped(h_prev, "recurrent_dropout", training)
        u_zr, u_h = ops.split(self.recurrent_kernel, [2 * self.units], axis=-1)
        rz, rr = ops.split(ops.matmul(h_dropped, u_zr), 2, axis=-1)
        z, r = self._recurrent_act(xz + rz), self._recurrent_act(xr + rr)
        hh = self._act(xh + ops.matmul(r * h_dropped, u_h))
        h = z * h_prev + (1.0 - z) * hh
        return h, ([h] if isinstance(states, (list, tuple)) else h)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


def _sizes(state_size) -> list:
    return list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]


class StackedRNNCells(Layer):
    """keras.layers.StackedRNNCells(cells) (and RNN([cell, cell, ...])): within each step the
    cells run one after the other, each reading the output of the one before; their states side by
    side, each cell's in turn."""

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells or any(getattr(c, "state_size", None) is None for c in cells):
            raise ValueError("StackedRNNCells: cells must be a non-empty list of cells, each defining state_size")
        self.cells = cells

    @property
    def state_size(self):
        return [s for c in self.cells for s in _sizes(c.state_size)]

    @property
    def output_size(self):
        last = self.cells[-1]
        return getattr(last, "output_size", None) or _sizes(last.state_size)[0]

    def build(self, input_shape):
        from . import custom
        features = input_shape[-1]
        for c in self.cells:
            if not c.built:
                custom.build_custom(c, (input_shape[0], features))
            features = getattr(c, "output_size", None) or _sizes(c.state_size)[0]

    def call(self, inputs, states, training=False):
        from . import custom
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        new_states, k = [], 0
        for c in self.cells:
            n = len(_sizes(c.state_size))
            kwargs = {"training": training} if "training" in custom.call_parameters(c) else {}
            inputs, new = c(inputs, states[k:k + n], **kwargs)
            new_states += list(new) if isinstance(new, (list, tuple)) else [new]
            k += n
        return inputs, new_states

    def get_config(self):
        return {**super().get_config(), "cells": [sublayer_entry(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "cells": [cell_from_entry(c) if isinstance(c, dict) else c for c in config["cells"]]})


def cell_from_entry(entry):
    """A built-in cell (or a stack of them) from its entry in a config."""
    from ..serialization import deserialize
    return deserialize(entry, {c.__name__: c for c in (LSTMCell, GRUCell, SimpleRNNCell, StackedRNNCells)}, "cell")
