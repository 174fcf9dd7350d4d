"""A functional model's op nodes (`x * 0.5`, `ops.mean(x, axis=1)`, `x[:, -1]`: layers/operation.py)
in files, as Keras 3 writes them: an entry whose class is the op's (Multiply, Mean, GetItem, in
module keras.src.ops.numpy or .nn), its tensor arguments in the call ("inbound_nodes") and its
other arguments in the config, slices as {"class_name": "__slice__"}. Read back, the entry calls
the keras.ops function of that name on its arguments (a node again); only values are read: no
code from the file runs."""
from __future__ import annotations

import inspect
import operator

import numpy as np

from . import ops
from .layers.operation import OperationLayer, _Slot

# the ops whose every positional argument is a call argument in Keras (a number with a tensor too)
_CALL_ONLY = {"add", "subtract", "multiply", "divide", "true_divide", "power", "matmul", "maximum", "minimum",
              "getitem", "dot"}
_CLASS_NAMES = {"getitem": "GetItem", "abs": "Absolute"}
_OP_NAMES = {"get_item": "getitem"}


def is_op_entry(entry) -> bool:
    return isinstance(entry, dict) and str(entry.get("module", "")).startswith("keras.src.ops")


def _class_name(op_name) -> str:
    return _CLASS_NAMES.get(op_name) or "".join(part.capitalize() for part in op_name.split("_"))


def _snake(class_name) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in class_name).lstrip("_")
    return _OP_NAMES.get(out, out)


def _encode(value, tensor, where):
    """A call argument in Keras' JSON: its tensors by tensor(k), slices as __slice__."""
    if isinstance(value, _Slot):
        return tensor(value.k)
    if isinstance(value, slice):
        return {"class_name": "__slice__", "config": {"start": value.start, "stop": value.stop, "step": value.step}}
    if isinstance(value, (list, tuple)):
        return [_encode(v, tensor, where) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"{where}: an argument of type {type(value).__name__} cannot be saved (numbers, strings, "
                     "None, slices and lists of them can)")


def _has_tensor(value) -> bool:
    if isinstance(value, _Slot):
        return True
    return isinstance(value, (list, tuple)) and any(_has_tensor(v) for v in value)


def entry(layer: OperationLayer, inputs, tensor) -> dict:
    """The layer's entry; inputs: its node's tensor numbers, tensor(i): Keras' reference to one."""
    where = f"op {layer.name!r} (keras.ops.{layer.op_name})"
    ref = lambda k: tensor(inputs[k])  # noqa: E731
    name = layer.op_name
    args, kwargs = list(layer._args), dict(layer._kwargs)
    config = {"name": layer.name}
    if name not in _CALL_ONLY:  # (Keras' op classes take the arguments that are not tensors when made)
        function = getattr(ops, name)
        bound = inspect.signature(function).bind(*args, **kwargs).arguments
        call = []
        for param, value in bound.items():
            if _has_tensor(value) and len(call) == list(bound).index(param):
                call.append(value)
            elif _has_tensor(value):
                raise ValueError(f"{where}: a tensor after other arguments ({param}) cannot be saved")
            else:
                config[param] = _encode(value, ref, where)
        args, kwargs = call, {}
    module = "keras.src.ops.nn" if hasattr(ops.nn, name) else "keras.src.ops.numpy"
    return {"module": module, "class_name": _class_name(name), "config": config,
            "registered_name": _class_name(name), "name": layer.name,
            "inbound_nodes": [{"args": [_encode(a, ref, where) for a in args],
                               "kwargs": {k: _encode(v, ref, where) for k, v in kwargs.items()}}]}


class OpEntry:
    """An op entry read from a file: called with its call's arguments, it makes the node."""

    def __init__(self, spec, source):
        config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
        self.name = spec.get("name", config.get("name"))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{source}: an op entry ({str(spec.get('class_name'))[:40]!r}) has no name")
        self.op_name = _snake(str(spec.get("class_name")))
        function = getattr(ops, self.op_name, None) if not self.op_name.startswith("_") else None
        if self.op_name != "getitem" and (function is None or not inspect.isfunction(function)):
            raise ValueError(f"{source}: op {spec.get('class_name')!r} ({self.op_name}) is not among brisknet's "
                             "keras.ops")
        self.function = operator.getitem if self.op_name == "getitem" else function
        self.config = {k: v for k, v in config.items() if k != "name"}
        self.source = source

    def decode(self, value, tensor_of):
        """A call argument from Keras' JSON (tensor_of: a tensor dict -> its tensor)."""
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                return tensor_of(value)
            c = value.get("config")
            if value.get("class_name") == "__slice__" and isinstance(c, dict) and all(
                    v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in c.values()):
                return slice(c.get("start"), c.get("stop"), c.get("step"))
            raise ValueError(f"{self.source}: op {self.name!r}: unknown argument {str(value)[:80]!r}")
        if isinstance(value, list):
            return [self.decode(v, tensor_of) for v in value]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise ValueError(f"{self.source}: op {self.name!r}: unknown argument {str(value)[:80]!r}")

    def __call__(self, *args, **kwargs):
        def symbolic(v):
            return hasattr(v, "sample_shape") or (isinstance(v, list) and any(symbolic(t) for t in v))
        if not any(symbolic(v) for v in (*args, *kwargs.values())):  # (nothing computes on the file's values)
            raise ValueError(f"{self.source}: op {self.name!r} has no tensor among its arguments")
        if self.op_name == "getitem":
            x, key = args
            out = operator.getitem(x, tuple(key) if isinstance(key, list) else key)
        else:
            out = self.function(*args, **{**self.config, **kwargs})
        if not hasattr(out, "layer"):
            raise ValueError(f"{self.source}: op {self.name!r} does not make a tensor of the model")
        out.layer.name = self.name  # (the file's name: its later entries refer to it)
        return out
