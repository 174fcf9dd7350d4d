"""keras.layers.Lambda: a function of keras.ops as a layer, traced and differentiated as a custom
layer's call() is. Its function is code, so a model holding one cannot be saved to a file (and
no file's Lambda is ever loaded): write a registered Layer subclass for that, as Keras advises."""
from __future__ import annotations

import inspect

from . import custom
from .layer import Layer


class Lambda(Layer):
    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {type(function).__name__}")
        if mask is not None:
            raise NotImplementedError("Lambda(mask=...): masks are not supported yet")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: arguments must be a dict, got {type(arguments).__name__}")
        self.function, self.arguments = function, dict(arguments or {})
        self._output_shape = output_shape
        try:
            self._takes_training = "training" in inspect.signature(function).parameters
        except (TypeError, ValueError):
            self._takes_training = False

    def call(self, inputs, training=None):
        kwargs = dict(self.arguments)
        if self._takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        shape = self._output_shape
        if shape is None:  # the traced call() says
            return (input_shape[0],) + tuple(custom.sample_output_shape(self, tuple(input_shape)[1:]))
        if callable(shape):
            return tuple(shape(input_shape))
        return (input_shape[0],) + tuple(shape)

    def get_config(self):
        raise NotImplementedError(f"Lambda layer {self.name!r}: its function is code, which brisknet never saves "
                                  "into or loads from a file; write a Layer subclass registered with "
                                  "@keras.saving.register_keras_serializable()")
