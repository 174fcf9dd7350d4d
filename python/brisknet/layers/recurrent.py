"""Recurrent layers, as Keras 3's: RNN(cell) over (batch, steps, features) sequences; LSTM, GRU
and SimpleRNN (an RNN of their cell); Bidirectional.

They are written with keras.ops, so they work wherever a user's layer does (Sequential and
functional models, inside custom layers and Model subclasses, eagerly on arrays). An RNN of a
built-in cell with its default activations runs the whole sequence as one fused C++ op each way
(kernels/recurrent.cpp): the input projection of every step as one GEMM, one recurrent GEMM per
step with the gates applied in place, masked steps carrying their states over, and backward
through time with the weight gradients as one GEMM each over all steps. Any other cell (a user's
own, or recurrent_dropout in training) runs step by step, its call() traced once per step."""
from __future__ import annotations

import inspect

import numpy as np

from .. import autodiff, ops
from ..variables import Variable
from . import custom
from .layer import Layer, sublayer_entry
from .recurrent_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells, _Cell, cell_from_entry

_FUSED = {LSTMCell: "lstm", GRUCell: "gru", SimpleRNNCell: "simple_rnn"}
_ALPHA = {"leaky_relu": 0.2, "elu": 1.0}  # Keras' defaults for the activations taking one


def _fused_sequence(cell_kind, x, runs, mask, activation, bf16=False):
    """The `recurrent` primitive (autodiff/rules.py) on arrays or traced tensors. runs: one
    (kernel, recurrent_kernel, bias or None, states, reverse) per run over x (Bidirectional's two
    directions run at once); bf16: its GEMMs in bf16 (mixed_bfloat16). Returns the states (runs, S,
    batch, steps, units), processing order."""
    from ..autodiff.rules import PRIMITIVES
    has_bias = runs[0][2] is not None
    operands = [x]
    for kernel, recurrent, bias, states, _ in runs:
        operands += [kernel, recurrent] + ([bias] if has_bias else []) + list(states)
    operands += [mask] if mask is not None else []
    attrs = dict(cell=cell_kind, reverse=tuple(bool(r[4]) for r in runs), has_bias=has_bias,
                 has_mask=mask is not None, activation=activation, alpha=_ALPHA.get(activation, 0.0))
    if bf16:  # (only then: float32 graphs keep their attributes)
        attrs["bf16"] = True
    if any(autodiff.is_traced(v) for v in operands) or autodiff.current() is not None:
        from ..autodiff import traced_ops
        trace = traced_ops.trace_of(*operands)
        return traced_ops.bind("recurrent", [traced_ops.tensor(v, trace) for v in operands], **attrs)
    arrays = [v.value if isinstance(v, Variable) else np.asarray(v) for v in operands]
    return PRIMITIVES["recurrent"].forward(*arrays, **attrs)[0]


class RNN(Layer):
    """keras.layers.RNN(cell, return_sequences=False, return_state=False, go_backwards=False,
    stateful=False, unroll=False, zero_output_for_mask=False), called as
    layer(sequences, initial_state=None, mask=None, training=None)."""

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, dict):  # (its entry in a config)
            cell = cell_from_entry(cell)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)  # (as Keras)
        if getattr(cell, "state_size", None) is None:
            raise ValueError(f"RNN: the cell must define state_size, got {type(cell).__name__}")
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), bool(stateful), bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self._states = None  # stateful: the states the next call starts from (Variables of their own)

    @property
    def state_size(self) -> list:
        size = self.cell.state_size
        return list(size) if isinstance(size, (list, tuple)) else [size]

    @property
    def states(self):
        return self._states

    def build(self, sequences_shape, initial_state_shape=None):
        if isinstance(sequences_shape, list) and sequences_shape and isinstance(sequences_shape[0], (tuple, list)):
            sequences_shape = tuple(sequences_shape[0])  # (called with initial states too: the sequence's)
        if len(sequences_shape) != 3:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) expects sequences (batch, steps, "
                             f"features), got shape {tuple(sequences_shape)}")
        if not self.cell.built:
            custom.build_custom(self.cell, (sequences_shape[0], sequences_shape[2]))
        self.built = True

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        units = getattr(self.cell, "output_size", None) or self.state_size[0]
        out = (batch, steps, units) if self.return_sequences else (batch, units)
        return [out] + [(batch, s) for s in self.state_size] if self.return_state else out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out] + [None] * len(self.state_size) if self.return_state else out

    # ---------------------------------------------------------------- states
    def _initial_states(self, initial_state, batch, dtype):
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != len(self.state_size):
                raise ValueError(f"layer {self.name!r}: expected {len(self.state_size)} initial state tensors, got "
                                 f"{len(states)}")
            for s, size in zip(states, self.state_size):
                if tuple(s.shape) != (batch, size):
                    raise ValueError(f"layer {self.name!r}: an initial state must be (batch, {size}) = "
                                     f"{(batch, size)}, got {tuple(s.shape)}")
            return states
        if self.stateful:
            if self._states is None:
                self._states = [Variable.holding(np.zeros((batch, s), np.float32), "rnn_state", self.name)
                                for s in self.state_size]
            if self._states[0].shape[0] != batch:
                raise ValueError(f"layer {self.name!r} is stateful: its batch size is {self._states[0].shape[0]}, "
                                 f"got a batch of {batch} (give fit/predict that batch_size, and shuffle=False)")
            return [ops.stop_gradient(v) for v in self._states]
        return [ops.zeros((batch, s), dtype) for s in self.state_size]

    def reset_state(self):
        for v in self._states or []:
            v.assign(np.zeros(v.shape, np.float32))

    reset_states = reset_state

    # ---------------------------------------------------------------- the sequence
    def _fused_kind(self, training):
        cell = self.cell
        kind = _FUSED.get(type(cell))
        if kind is None or (cell.recurrent_dropout and training) or not getattr(cell, "reset_after", True):
            return None
        if kind == "simple_rnn":
            from .. import kernels
            return kind if cell.activation in kernels.ACTIVATIONS and cell.activation not in (
                "softmax", "log_softmax") else None
        return kind if (cell.activation, cell.recurrent_activation) == ("tanh", "sigmoid") else None

    def call(self, sequences, initial_state=None, mask=None, training=False):
        x = sequences
        mask, states, zero_start = self._prepared(x, initial_state, mask)
        training = bool(training)
        kind = self._fused_kind(training)
        if kind is not None:
            sequence, states = self._fused(kind, x, states, mask, training, zero_start)
        else:
            sequence, states = self._stepped(x, states, mask, training)
        return self._result(sequence, states)

    def _result(self, sequence, states):
        if self.stateful:
            for v, s in zip(self._states, states):
                v.assign(s)
        output = sequence if self.return_sequences else sequence[:, -1]
        return [output, *states] if self.return_state else output

    def _prepared(self, x, initial_state, mask):
        """(mask as booleans, the initial states, whether they are zeros) of a call, checked."""
        if len(x.shape) != 3:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) expects sequences (batch, steps, "
                             f"features), got shape {tuple(x.shape)}")
        batch, steps = x.shape[0], x.shape[1]
        if mask is not None:
            if tuple(mask.shape) != (batch, steps):
                raise ValueError(f"layer {self.name!r}: a mask must be (batch, steps) = {(batch, steps)}, got "
                                 f"{tuple(mask.shape)}")
            mask = ops.cast(mask, "bool")
        states = self._initial_states(initial_state, batch, x.dtype)
        return mask, states, initial_state is None and not self.stateful

    def _fused(self, kind, x, states, mask, training, zero_start=False):
        packed = _fused_sequence(kind, self._dropped_input(x, training), [self._fused_run(states)], mask,
                                 self.cell.activation, self._bf16)
        return self._outputs_of(packed[0], len(states), mask, zero_start)

    def _dropped_input(self, x, training):
        cell = self.cell
        if cell.dropout and training:  # (Keras: one mask for the whole sequence)
            x = x * ops.expand_dims(cell.dropout_mask(x[:, 0], "dropout"), 1)
        return x

    def _fused_run(self, states):
        cell = self.cell
        return cell.kernel, cell.recurrent_kernel, cell.bias, states, self.go_backwards

    def _outputs_of(self, packed, n_states, mask, zero_start):
        """(the output sequence, the final states) from a fused run's states (S, batch, steps, u)."""
        sequence = packed[0]
        if mask is not None and (self.zero_output_for_mask or not zero_start):
            # Keras' outputs: zeros where masked (zero_output_for_mask), else the last output, and
            # zeros before the first step kept (the kernel's states hold the initial state there)
            processed = ops.flip(mask, axis=1) if self.go_backwards else mask
            if not self.zero_output_for_mask:
                processed = ops.cumsum(ops.cast(processed, "int32"), axis=1) > 0
            sequence = ops.where(ops.expand_dims(processed, -1), sequence, 0.0)
        return sequence, [packed[k][:, -1] for k in range(n_states)]

    def _stepped(self, x, states, mask, training):
        cell = self.cell
        kwargs = {"training": training} if "training" in custom.call_parameters(cell) else {}
        if isinstance(cell, _Cell) and training:  # (Keras: the dropout masks drawn once per sequence)
            cell._sequence_masks = {w: cell.dropout_mask(t, w) for w, t in (("dropout", x[:, 0]),
                                                                          ("recurrent_dropout", states[0]))
                                    if getattr(cell, w)}
        try:
            outputs, previous = [], None
            for t in (range(x.shape[1] - 1, -1, -1) if self.go_backwards else range(x.shape[1])):
                out, new = cell(x[:, t], list(states), **kwargs)
                new = list(new) if isinstance(new, (list, tuple)) else [new]
                if mask is not None:
                    keep = mask[:, t:t + 1]
                    new = [ops.where(keep, n, s) for n, s in zip(new, states)]
                    held = ops.zeros_like(out) if previous is None or self.zero_output_for_mask else previous
                    out = ops.where(keep, out, held)
                states, previous = new, out
                outputs.append(out)
        finally:
            cell.__dict__.pop("_sequence_masks", None)
        return ops.stack(outputs, axis=1), states

    def get_config(self):
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "cell": sublayer_entry(self.cell)}


class _CellLayer(RNN):
    """LSTM, GRU and SimpleRNN: an RNN of their cell, made from the cell's arguments, whose config
    is the cell's arguments with the RNN's (Keras' form)."""

    CELL: type = _Cell
    CELL_NAME = ""

    def __init__(self, units, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, activity_regularizer=None, use_cudnn="auto", **kwargs):
        if activity_regularizer is not None:
            raise NotImplementedError(f"{type(self).__name__}: activity_regularizer is not supported yet")
        names = set(inspect.signature(self.CELL.__init__).parameters) - {"self", "kwargs"}
        cell_args = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        cell_args.pop("units", None)
        cell = self.CELL(units, name=self.CELL_NAME, **cell_args)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **kwargs)
        self.activity_regularizer = None

    def __getattr__(self, name):  # Keras: lstm.units, lstm.kernel, ... read from the cell
        if name in ("units", "activation", "recurrent_activation", "use_bias", "dropout", "recurrent_dropout",
                    "kernel", "recurrent_kernel", "bias", "unit_forget_bias", "reset_after", "seed") or \
                name.endswith(("_initializer", "_regularizer", "_constraint")):
            cell = self.__dict__.get("cell")
            if cell is not None:
                return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell.pop(key, None)
        return {**config, **cell, "activity_regularizer": None}


class SimpleRNN(_CellLayer):
    CELL, CELL_NAME = SimpleRNNCell, "simple_rnn_cell"


class LSTM(_CellLayer):
    CELL, CELL_NAME = LSTMCell, "lstm_cell"


class GRU(_CellLayer):
    CELL, CELL_NAME = GRUCell, "gru_cell"


class Bidirectional(Layer):
    """keras.layers.Bidirectional(layer, merge_mode='concat', backward_layer=None): the layer, and
    a copy of it (or backward_layer) reading the sequence backwards, their outputs merged (the
    backward one's sequence turned back to the input's order first, as Keras)."""

    MERGES = ("concat", "sum", "mul", "ave", None)

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        layer, backward_layer = (rnn_from_config(v) if isinstance(v, dict) else v for v in (layer, backward_layer))
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional: wraps a recurrent layer (RNN, LSTM, GRU, SimpleRNN), got "
                             f"{type(layer).__name__}")
        if merge_mode not in self.MERGES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {self.MERGES}, got {merge_mode!r}")
        if weights is not None:
            raise NotImplementedError("Bidirectional: weights= is not supported; use set_weights")
        super().__init__(**{"name": kwargs.pop("name", None) or f"bidirectional_{layer.name}", **kwargs})
        config = layer.get_config()
        self.forward_layer = type(layer).from_config({**config, "name": "forward_" + layer.name})
        if backward_layer is None:
            backward_layer = type(layer).from_config({**config, "name": "backward_" + layer.name,
                                                      "go_backwards": not layer.go_backwards})
        elif not isinstance(backward_layer, RNN) or backward_layer.go_backwards == layer.go_backwards:
            raise ValueError("Bidirectional: backward_layer must be a recurrent layer reading the other way "
                             "(go_backwards)")
        for attr in ("return_sequences", "return_state", "stateful"):
            if getattr(backward_layer, attr) != getattr(layer, attr):
                raise ValueError(f"Bidirectional: the forward and backward layers must have the same {attr}")
        for sub in (self.forward_layer, backward_layer):  # (Keras forces it so)
            sub.zero_output_for_mask = sub.return_sequences
        self.backward_layer, self.merge_mode = backward_layer, merge_mode
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.supports_masking = True

    def build(self, sequences_shape, initial_state_shape=None):
        self.built = True

    def call(self, sequences, initial_state=None, mask=None, training=None):
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        both = self._both_fused(sequences, forward_state, backward_state, mask, training)
        if both is not None:
            yf, yb = both
        else:
            yf = self.forward_layer(sequences, initial_state=forward_state, mask=mask, training=training)
            yb = self.backward_layer(sequences, initial_state=backward_state, mask=mask, training=training)
        states = []
        if self.return_state:
            (yf, *sf), (yb, *sb) = yf, yb
            states = sf + sb
        if self.return_sequences:
            yb = ops.flip(yb, axis=1)
        if self.merge_mode == "concat":
            out = ops.concatenate([yf, yb], axis=-1)
        elif self.merge_mode == "sum":
            out = yf + yb
        elif self.merge_mode == "mul":
            out = yf * yb
        elif self.merge_mode == "ave":
            out = (yf + yb) / 2
        else:
            out = [yf, yb]
        if self.return_state:
            return (out if isinstance(out, list) else [out]) + states
        return out

    def _both_fused(self, x, forward_state, backward_state, mask, training):
        """The two directions as one fused op (a thread each) when both run fused the same way
        (the same kind of cell, no input dropout in training); else None."""
        f, b = self.forward_layer, self.backward_layer
        training = bool(training)
        kind = f._fused_kind(training)
        if kind is None or kind != b._fused_kind(training) or f.cell.activation != b.cell.activation or \
                ((f.cell.dropout or b.cell.dropout) and training) or f.cell.use_bias != b.cell.use_bias or \
                f._bf16 != b._bf16:
            return None
        for layer in (f, b):
            custom.build_custom(layer, tuple(x.shape))
        fm, fs, f_zero = f._prepared(x, forward_state, mask)
        _, bs, b_zero = b._prepared(x, backward_state, mask)
        packed = _fused_sequence(kind, x, [f._fused_run(fs), b._fused_run(bs)], fm, f.cell.activation, f._bf16)
        return (f._result(*f._outputs_of(packed[0], len(fs), fm, f_zero)),
                b._result(*b._outputs_of(packed[1], len(bs), fm, b_zero)))

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out, out] if self.merge_mode is None else out

    def get_config(self):
        inner = self.forward_layer.get_config()
        inner["name"] = self.forward_layer.name[len("forward_"):]
        inner["zero_output_for_mask"] = False
        config = {**super().get_config(), "merge_mode": self.merge_mode,
                  "layer": {**sublayer_entry(self.forward_layer), "config": inner}}
        if self.backward_layer.name != "backward_" + inner["name"]:
            config["backward_layer"] = sublayer_entry(self.backward_layer)
        return config


_RECURRENT = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}


def rnn_from_config(entry):
    """A recurrent layer from its entry in a Bidirectional's config (Keras' or ours)."""
    config = entry.get("config") if isinstance(entry, dict) else None
    cls = _RECURRENT.get(entry.get("class_name")) if isinstance(entry, dict) else None
    if cls is None or not isinstance(config, dict):
        raise ValueError(f"Bidirectional: the wrapped layer must be an LSTM's, GRU's or SimpleRNN's config, got "
                         f"{str(entry)[:80]!r}")
    return cls.from_config(config)
