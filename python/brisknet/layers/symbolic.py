"""Symbolic tensors of Keras' functional API: what calling a layer on keras.Input(...) (or on
another symbolic tensor) returns. Each knows its per-sample shape and the call that made it, so
keras.Model(inputs, outputs) can read the graph back from its outputs."""
from __future__ import annotations

from .input_layer import InputSpec


class SymbolicTensor:
    """Keras' KerasTensor: `shape` is (None,) + the sample's shape; `layer` made it from `source`."""

    def __init__(self, sample_shape, layer, source):
        self.sample_shape = tuple(sample_shape)
        self.layer = layer
        self.source = source

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
