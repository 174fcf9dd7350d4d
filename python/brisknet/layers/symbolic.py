"""Symbolic tensors of Keras' functional API: what calling a layer on keras.Input(...) (or on
other symbolic tensors) returns. Each knows its per-sample shape and the call that made it (the
layer and the tensors it was called on), so keras.Model(inputs, outputs) can read the graph back
from its outputs."""
from __future__ import annotations

import itertools

from .input_layer import InputSpec

_serials = itertools.count()  # the order calls were recorded in (Keras numbers a layer's calls so)


class SymbolicTensor:
    """Keras' KerasTensor: `shape` is (None,) + the sample's shape; `layer` made it from `inputs`
    (a tuple: one tensor, or several for a merge layer)."""

    def __init__(self, sample_shape, layer, inputs, part=0):
        self.sample_shape = tuple(sample_shape)
        self.layer = layer
        self.inputs = tuple(inputs)
        self.serial = next(_serials)
        # output `part` > 0 of a call of several outputs: `inputs` is that call's first output
        self.part = part

    @property
    def shape(self) -> tuple:
        return (None,) + self.sample_shape

    @property
    def name(self) -> str:
        return self.layer.name

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape} from layer {self.layer.name!r}>"


def is_symbolic(x) -> bool:
    return isinstance(x, (InputSpec, SymbolicTensor))
