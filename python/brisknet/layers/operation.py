"""keras.ops and Python's operators called on the functional API's symbolic tensors (`x + inputs`,
`ops.mean(x, axis=1)`, `x[:, -1]`): in Keras every op is an Operation that can be a node of a
functional model, and so here: the call becomes an OperationLayer node, a layer without weights
whose call() makes the same call again with the node's tensors in their places (traced and
differentiated as a custom layer's call()). Two tensors of one shape added, subtracted or
multiplied become the Add, Subtract or Multiply layer (merging.py registers them in MERGES),
which the engine runs. Files hold op nodes as Keras does (op_config.py)."""
from __future__ import annotations

import operator

from ..naming import unique_name
from .input_layer import InputLayer
from .layer import Layer
from .symbolic import SymbolicTensor, is_symbolic

MERGES = {}  # op name -> the merge layer class that computes it on two tensors of one shape


class _Slot:
    def __init__(self, k):
        self.k = k


def _template(value, tensors):
    """value with its symbolic tensors (inside lists, tuples and dicts too) replaced by slots
    numbering them in `tensors` (each tensor once)."""
    if is_symbolic(value):
        for k, t in enumerate(tensors):
            if t is value:
                return _Slot(k)
        tensors.append(value)
        return _Slot(len(tensors) - 1)
    if isinstance(value, (list, tuple)):
        return type(value)(_template(v, tensors) for v in value)
    if isinstance(value, dict):
        return {key: _template(v, tensors) for key, v in value.items()}
    return value


def _fill(value, tensors):
    if isinstance(value, _Slot):
        return tensors[value.k]
    if isinstance(value, (list, tuple)):
        return type(value)(_fill(v, tensors) for v in value)
    if isinstance(value, dict):
        return {key: _fill(v, tensors) for key, v in value.items()}
    return value


class OperationLayer(Layer):
    """One op call of a functional model, as a layer: `op(*args, **kwargs)` with the node's
    tensors in the places the symbolic tensors had."""

    def __init__(self, op, op_name, args, kwargs, n_tensors, **kw):
        super().__init__(name=unique_name(op_name), **kw)
        self.op, self.op_name = op, op_name
        self._args, self._kwargs, self._n_tensors = args, kwargs, n_tensors

    def call(self, inputs):
        tensors = list(inputs) if self._n_tensors > 1 else [inputs]
        return self.op(*_fill(self._args, tensors), **_fill(self._kwargs, tensors))

    def get_config(self):
        raise NotImplementedError(f"{self.name!r}: an op node has no layer config; its model's config holds it "
                                  "as Keras writes ops (op_config.py)")


def symbolic_call(op, op_name, args, kwargs):
    """`op(*args, **kwargs)` where some arguments are symbolic tensors: the node's output."""
    if op_name in MERGES and len(args) == 2 and not kwargs and all(is_symbolic(a) for a in args) \
            and tuple(args[0].shape[1:]) == tuple(args[1].shape[1:]):
        return MERGES[op_name]()(list(args))
    tensors = []
    template_args, template_kwargs = _template(tuple(args), tensors), _template(dict(kwargs), tensors)
    layer = OperationLayer(op, op_name, template_args, template_kwargs, len(tensors))
    return layer(tensors if len(tensors) > 1 else tensors[0])


def _install_operators():
    """Python's operators on symbolic tensors, as on Keras' KerasTensor: nodes of the graph."""
    def binary(f, name):
        return (lambda self, other: symbolic_call(f, name, (self, other), {}),
                lambda self, other: symbolic_call(f, name, (other, self), {}))
    # dunder stem -> (the operator, the keras.ops name a file records it by)
    table = {"add": (operator.add, "add"), "sub": (operator.sub, "subtract"), "mul": (operator.mul, "multiply"),
             "truediv": (operator.truediv, "divide"), "pow": (operator.pow, "power"),
             "matmul": (operator.matmul, "matmul")}

    def not_iterable(self):
        # (without it Python would iterate by __getitem__ 0, 1, 2, ... without end)
        raise TypeError("a symbolic tensor of a functional model cannot be iterated; index it (x[:, 0]) or split "
                        "it with keras.ops")
    for cls in (SymbolicTensor, InputLayer):
        for dunder, (f, name) in table.items():
            forward, reverse = binary(f, name)
            setattr(cls, f"__{dunder}__", forward)
            setattr(cls, f"__r{dunder}__", reverse)
        cls.__neg__ = lambda self: symbolic_call(operator.neg, "negative", (self,), {})
        cls.__abs__ = lambda self: symbolic_call(operator.abs, "absolute", (self,), {})
        cls.__getitem__ = lambda self, key: symbolic_call(operator.getitem, "getitem", (self, key), {})
        cls.__iter__ = not_iterable


_install_operators()
