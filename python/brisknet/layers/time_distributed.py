"""keras.layers.TimeDistributed: a layer applied to every step of a sequence on its own, as one
call on (batch * steps, ...) rows (the same as Keras' step-by-step map for any layer without
state across samples)."""
from __future__ import annotations

from .. import ops
from .layer import Layer, sublayer_entry


class TimeDistributed(Layer):
    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: wraps a layer, got {type(layer).__name__}")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"layer {self.name!r} (TimeDistributed) expects inputs (batch, steps, ...), got "
                             f"{tuple(input_shape)}")
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if len(inputs.shape) < 3:
            raise ValueError(f"layer {self.name!r} (TimeDistributed) expects inputs (batch, steps, ...), got "
                             f"{tuple(inputs.shape)}")
        batch, steps = inputs.shape[0], inputs.shape[1]
        rows = ops.reshape(inputs, (batch * steps,) + tuple(inputs.shape[2:]))
        out = self.layer(rows, training=training) if self.layer._is_custom else self.layer(rows)
        return ops.reshape(out, (batch, steps) + tuple(out.shape[1:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def get_config(self):
        return {**super().get_config(), "layer": sublayer_entry(self.layer)}

    @classmethod
    def from_config(cls, config):
        """The wrapped layer from its entry: one of brisknet's layer classes, or the user's
        registered ones (serialization.deserialize: nothing in a config runs)."""
        from ..serialization import deserialize
        config = dict(config)
        if isinstance(config.get("layer"), dict):
            config["layer"] = deserialize(config["layer"], _builtin_layers(), "layer")
        return cls(**config)


def _builtin_layers() -> dict:
    """brisknet's layer classes by name (the subclasses of Layer defined in this package)."""
    found, todo = {}, [Layer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("brisknet.layers") and not sub.__name__.startswith("_"):
                found.setdefault(sub.__name__, sub)
    return found
