"""keras.models.clone_model: the same architecture with new layers (freshly initialised weights,
as Keras): a Sequential's nested Sequentials cloned too, a functional model's graph of calls made
again on the new layers."""
from __future__ import annotations

from .. import functional_config
from ..layers import Input, Layer
from .functional import Functional
from .sequential import Sequential


def _clone_layer(layer):
    return layer.__class__.from_config(layer.get_config())


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A new, uncompiled model with `model`'s architecture and new weights. clone_function(layer)
    makes each layer (default: from the layer's config); nested Sequentials are cloned with it
    when recursive=True, else from their config."""
    if not isinstance(model, Sequential):
        raise TypeError(f"clone_model: expected a brisknet model, got {type(model).__name__}")
    if input_tensors is not None or call_function is not None or kwargs:
        raise NotImplementedError("clone_model: input_tensors and call_function are not supported")
    clone = clone_function or _clone_layer
    if isinstance(model, Functional):  # the same graph of calls on new layers
        def layer_from(entry):
            new = clone(model.get_layer(entry["name"]))
            if not isinstance(new, Layer):
                raise TypeError(f"clone_model: clone_function must return a Layer, got {type(new).__name__}")
            return new
        inputs, outputs, name, trainable = functional_config.build(model.get_config(), layer_from, "clone_model")
        return Functional(inputs, outputs, name=name, trainable=trainable)
    entries = []
    for entry in model.layers:
        if isinstance(entry, Sequential):
            entries.append(clone_model(entry, clone_function=clone_function if recursive else None,
                                       recursive=recursive))
        else:
            new = clone(entry)
            if not isinstance(new, Layer):
                raise TypeError(f"clone_model: clone_function must return a Layer, got {type(new).__name__}")
            entries.append(new)
    start = [Input(model._input_shape)] if model._input_shape is not None else []
    return Sequential(start + entries, trainable=model.trainable, name=model.name)
