"""keras.Model(inputs, outputs): the functional API. For now a model is one chain of layers from
one Input to one output (merge layers, several inputs or outputs and shared layers come with the
graph engine), trained by the same engine as a Sequential: it is a Sequential of the chain, so
the same layers give the same weights, bit for bit."""
from __future__ import annotations

from ..layers import InputSpec
from ..layers.symbolic import SymbolicTensor, is_symbolic
from ..naming import unique_name
from .sequential import Sequential


def _one(value, what):
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise NotImplementedError(f"Model: {len(value)} {what} given; a functional model has one input and "
                                      "one output for now")
        value = value[0]
    if isinstance(value, dict):
        raise NotImplementedError(f"Model: {what} as a dict are not supported yet")
    if not is_symbolic(value):
        raise TypeError(f"Model: {what} must come from keras.Input(...) and layer calls, got {type(value).__name__}")
    return value


def chain(inputs, outputs) -> list:
    """The layers from `inputs` to `outputs`, in order (ValueError where outputs do not come from
    inputs, NotImplementedError where a layer is used twice)."""
    layers, t = [], outputs
    while isinstance(t, SymbolicTensor):
        layers.append(t.layer)
        t = t.source
    if t is not inputs:
        raise ValueError("Model: the outputs are not computed from these inputs (call the layers on the "
                         "tensor keras.Input(...) returned)")
    layers.reverse()
    if len({id(layer) for layer in layers}) != len(layers):
        raise NotImplementedError("Model: a layer called twice (shared weights) is not supported yet")
    return layers


class Model(Sequential):
    """keras.Model(inputs, outputs, name=None): a model from a graph of layer calls on keras.Input
    (one chain for now). Subclassing keras.Model (a call() method of one's own) is not supported."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, device=None, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unexpected arguments {sorted(kwargs)}")
        if inputs is None or outputs is None:
            raise NotImplementedError("Model: subclassed models (a call() of one's own) are not supported; "
                                      "build one from keras.Input: Model(inputs, outputs)")
        inputs, outputs = _one(inputs, "inputs"), _one(outputs, "outputs")
        if not isinstance(inputs, InputSpec):
            raise ValueError("Model: inputs must be what keras.Input(...) returned")
        super().__init__([inputs] + chain(inputs, outputs), trainable=trainable,
                         name=name if name is not None else unique_name("functional"), device=device)
        self.inputs, self.outputs = [inputs], [outputs]
